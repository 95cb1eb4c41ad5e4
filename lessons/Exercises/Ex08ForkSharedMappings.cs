using System.Runtime.CompilerServices;
using System.Text;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 08.1–08.2 — a parent and a forked child exchange one message through a MAP_SHARED page.
/// Write the bodies of <see cref="Reply"/> (the child's side) and <see cref="Exchange"/> (the parent's side);
/// `dotnet test tests/Exercises.Tests --filter Lesson=08` grades them.
/// <para>
/// The protocol, all in one page mapped MAP_SHARED|MAP_ANONYMOUS, readable and writable, before the fork:
/// <list type="bullet">
/// <item>at <see cref="RequestLengthOffset"/> (0): the request's length in bytes, an int;</item>
/// <item>at <see cref="ReplyLengthOffset"/> (4): the reply's length in bytes, an int, written by the child;</item>
/// <item>at <see cref="RequestOffset"/> (64): the request, UTF-8, at most <see cref="MaxMessageBytes"/> bytes;</item>
/// <item>at <see cref="ReplyOffset"/> (64 + <see cref="MaxMessageBytes"/>): the reply, UTF-8, as long as the request.</item>
/// </list>
/// The reply is the request with every ASCII letter a–z upper-cased (byte by byte: 'a'..'z' minus 32); all other
/// bytes are copied unchanged, so multi-byte UTF-8 characters stay intact ("héllo" → "HéLLO").
/// </para>
/// </summary>
public static class MessageExchange
{
    public const int RequestLengthOffset = 0;
    public const int ReplyLengthOffset = 4;
    public const int RequestOffset = 64;
    public const int MaxMessageBytes = 1024;
    public const int ReplyOffset = RequestOffset + MaxMessageBytes;

    /// <summary>
    /// Exercise 08.1 — the child's body: reads the request in the page at <paramref name="page"/>, writes the reply and
    /// its length, returns the exit code: 0 when it replied, 1 when the request length is negative or above
    /// <see cref="MaxMessageBytes"/> (then it writes nothing).
    /// <para>
    /// It runs in a forked child, where only this thread exists: it must stay as it is declared here (static, marked
    /// <c>[MethodImpl(MethodImplOptions.AggressiveOptimization)]</c>), allocate nothing (no strings, no arrays, no
    /// Encoding: plain byte reads and writes through pointers), throw nothing, lock nothing. Before the first fork,
    /// <see cref="Fork"/> calls it once in the parent on a page of zeros: a request of length 0, whose reply is empty
    /// (length 0): it must return 0 there without touching anything else.
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe int Reply(nint page)
    {
        // BEGIN SOLUTION
        byte* p = (byte*)page;
        int n = *(int*)(p + RequestLengthOffset);
        if (n < 0 || n > MaxMessageBytes) return 1;
        byte* request = p + RequestOffset, reply = p + ReplyOffset;
        for (int i = 0; i < n; i++)
        {
            byte b = request[i];
            reply[i] = b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b;
        }
        *(int*)(p + ReplyLengthOffset) = n;
        return 0;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 08.2 — the parent's side: maps a fresh page that a child forked afterwards shares with this process,
    /// writes <paramref name="toChild"/> into it as the protocol says, runs <see cref="Reply"/> in a forked child (the
    /// workbook's safe way, lesson 08), and after the child exited returns the reply it left in the page. The page
    /// is unmapped before returning, also when something failed.
    /// </summary>
    /// <exception cref="ArgumentNullException">toChild is null.</exception>
    /// <exception cref="ArgumentException">toChild is longer than <see cref="MaxMessageBytes"/> bytes in UTF-8 (nothing is forked).</exception>
    /// <exception cref="InvalidOperationException">the child did not exit with code 0 (the message says how it ended).</exception>
    public static unsafe string Exchange(string toChild)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(toChild);
        int n = Encoding.UTF8.GetByteCount(toChild);
        if (n > MaxMessageBytes)
            throw new ArgumentException($"the message is {n} bytes in UTF-8; at most {MaxMessageBytes} fit", nameof(toChild));
        using var page = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        byte* p = (byte*)page.Address;
        Encoding.UTF8.GetBytes(toChild, new Span<byte>(p + RequestOffset, MaxMessageBytes));
        *(int*)(p + RequestLengthOffset) = n;
        var outcome = Fork.Run(Reply, page.Address);
        if (outcome.ExitCode != 0)
            throw new InvalidOperationException($"the replying child failed: {outcome}");
        int m = Volatile.Read(ref *(int*)(p + ReplyLengthOffset));
        if (m < 0 || m > MaxMessageBytes)
            throw new InvalidOperationException($"the child left a reply length of {m}");
        return Encoding.UTF8.GetString(p + ReplyOffset, m);
        // END SOLUTION
    }
}

/// <summary>
/// Exercise 08.3–08.5 — a counter that forked children can add to at the same time without losing an update. It lives
/// in one MAP_SHARED|MAP_ANONYMOUS page (a long at the page's first byte), so every child forked while it exists adds
/// to the same memory as the parent. `dotnet test tests/Exercises.Tests --filter Lesson=08` grades it.
/// <para>
/// Children cannot call methods on the object (that is managed code that may not be compiled in the child, see
/// lesson 08): they get the counter's <see cref="Address"/> as their argument and call the static
/// <see cref="AddAt"/>, which must stay static and marked <c>[MethodImpl(MethodImplOptions.AggressiveOptimization)]</c>
/// and allocate nothing. The grader's children call it after the parent called it once.
/// </para>
/// </summary>
public sealed class SharedCounter : IDisposable
{
    readonly Mapping page;

    /// <summary>Maps the counter's page (see <see cref="MapPage"/>); the counter starts at 0.</summary>
    /// <exception cref="PosixException">mmap failed.</exception>
    public SharedCounter() => page = MapPage();

    /// <summary>The counter's address (the first byte of its page): what a child body receives.</summary>
    /// <exception cref="ObjectDisposedException">the counter was disposed.</exception>
    public nint Address => page.Address;

    /// <summary>
    /// Exercise 08.3 — maps one page (<see cref="SysConf.PageSize"/> bytes), readable and writable, shared and anonymous,
    /// and returns it. Its bytes are zeros: the counter starts at 0.
    /// </summary>
    static Mapping MapPage()
    {
        // BEGIN SOLUTION
        return Mman.MapAnonymous(SysConf.PageSize, shared: true);
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 08.4 — adds <paramref name="delta"/> to the long at <paramref name="counter"/> as one indivisible
    /// read-modify-write, so that no concurrent addition from another process is lost, and
    /// returns the new value. Runs in forked children: static, AggressiveOptimization, no allocation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe long AddAt(nint counter, long delta)
    {
        // BEGIN SOLUTION
        return Interlocked.Add(ref *(long*)counter, delta);
        // END SOLUTION
    }

    /// <summary>Adds <paramref name="delta"/> (may be negative) with <see cref="AddAt"/> and returns the new value.</summary>
    /// <exception cref="ObjectDisposedException">the counter was disposed.</exception>
    public long Add(long delta) => AddAt(Address, delta);

    /// <summary>
    /// Exercise 08.5 — the current value, as it is in memory now: a read the compiler may neither cache in a register
    /// nor leave out, so that it sees the children's additions.
    /// </summary>
    /// <exception cref="ObjectDisposedException">the counter was disposed.</exception>
    public unsafe long Value
    {
        get
        {
            // BEGIN SOLUTION
            return Volatile.Read(ref *(long*)Address);
            // END SOLUTION
        }
    }

    /// <summary>Unmaps the page; afterwards <see cref="Address"/>, <see cref="Add"/> and <see cref="Value"/> throw
    /// <see cref="ObjectDisposedException"/>. A second Dispose does nothing.</summary>
    public void Dispose() => page.Dispose();

    public override string ToString() => page.IsClosed ? "SharedCounter (disposed)" : $"SharedCounter at 0x{page.Address:x} = {Value}";
}

using Lessons.L06_MprotectWx;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 06 — a W^X code buffer: memory that is never writable and executable at the same time. Write the bodies of
/// <see cref="Write"/>, <see cref="Seal"/>, <see cref="EntryPoint"/> and <see cref="Dispose"/>;
/// `dotnet test tests/Exercises.Tests --filter Lesson=06` grades them.
/// <para>
/// Life of a buffer: the constructor (given) maps whole pages PROT_READ|PROT_WRITE. While it is writable,
/// <see cref="Write"/> copies machine code into it (<see cref="MachineCode.ReturnConstant"/> makes some).
/// <see cref="Seal"/> switches it to PROT_READ|PROT_EXEC for good (and flushes the instruction cache with
/// <see cref="InstructionCache.Flush"/>, which arm64 needs); from then on <see cref="EntryPoint"/> hands out function
/// pointers and <see cref="Invoke"/> calls them. <see cref="Dispose"/> unmaps the pages.
/// </para>
/// <para>
/// Misuse is refused by the class with an exception, before any memory is touched: a write after sealing must never
/// reach the (read-only) page, where it would kill the process with SIGSEGV. Keep the state in the properties that
/// exist (<see cref="IsSealed"/>, and the mapping's own IsClosed); add no fields.
/// </para>
/// </summary>
public sealed class CodeBuffer : IDisposable
{
    /// <summary>Maps <paramref name="size"/> bytes rounded up to whole pages, readable and writable, filled with zeros.</summary>
    /// <exception cref="ArgumentOutOfRangeException">size is 0, negative, or too large to round up to a page.</exception>
    public CodeBuffer(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        long page = SysConf.PageSize;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, long.MaxValue - page);
        Memory = Mman.MapAnonymous((size + page - 1) / page * page);
    }

    /// <summary>The pages. Their protection changes only in <see cref="Seal"/>.</summary>
    Mapping Memory { get; }

    /// <summary>The first byte of the buffer (page-aligned).</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public nint Address => Memory.Address;

    /// <summary>The size in bytes: the requested size rounded up to a multiple of the page size.</summary>
    public long Capacity => Memory.Length;

    /// <summary>True once <see cref="Seal"/> has made the buffer read-only and executable.</summary>
    public bool IsSealed { get; private set; }

    /// <summary>True once <see cref="Dispose"/> has unmapped the buffer.</summary>
    public bool IsDisposed => Memory.IsClosed;

    /// <summary>
    /// Exercise 06.1 — copies <paramref name="code"/> into the buffer at <paramref name="offset"/>. Allowed only before
    /// sealing. Writing no bytes (an empty span) at any offset from 0 to Capacity is allowed and changes nothing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed (checked first).</exception>
    /// <exception cref="InvalidOperationException">The buffer is sealed: the message says so (it contains "sealed");
    /// the buffer is not touched.</exception>
    /// <exception cref="ArgumentOutOfRangeException">offset is negative, or the bytes would not fit below Capacity;
    /// nothing is written.</exception>
    public void Write(long offset, ReadOnlySpan<byte> code)
    {
        // BEGIN SOLUTION
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (IsSealed)
            throw new InvalidOperationException(
                $"the code buffer at 0x{Address:x} is sealed (PROT_READ|PROT_EXEC): write the code before calling Seal");
        if (offset < 0 || offset > Capacity || code.Length > Capacity - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), offset,
                $"{code.Length} bytes at offset {offset} do not fit in the {Capacity}-byte buffer");
        unsafe
        {
            code.CopyTo(new Span<byte>((void*)(Address + (nint)offset), code.Length));
        }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 06.2 — makes the whole buffer PROT_READ|PROT_EXEC (mprotect), flushes the instruction cache over it,
    /// and sets <see cref="IsSealed"/>. Sealing a sealed buffer again does nothing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="PosixException">mprotect failed (the buffer stays writable and unsealed).</exception>
    public void Seal()
    {
        // BEGIN SOLUTION
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (IsSealed) return;
        Memory.Protect(Prot.PROT_READ | Prot.PROT_EXEC);
        InstructionCache.Flush(Address, Capacity);
        IsSealed = true;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 06.3 — the address of the function that starts <paramref name="offset"/> bytes into the buffer, to be
    /// called as <c>delegate* unmanaged&lt;int&gt;</c>. Only a sealed buffer hands out entry points.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed (checked first).</exception>
    /// <exception cref="InvalidOperationException">The buffer is not sealed yet (its pages are not executable).</exception>
    /// <exception cref="ArgumentOutOfRangeException">offset is negative or not below Capacity.</exception>
    public nint EntryPoint(long offset = 0)
    {
        // BEGIN SOLUTION
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (!IsSealed)
            throw new InvalidOperationException(
                $"the code buffer at 0x{Address:x} is not sealed yet: its pages are not executable; call Seal first");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(offset, Capacity);
        return Address + (nint)offset;
        // END SOLUTION
    }

    /// <summary>Calls the <c>int f(void)</c> at <paramref name="offset"/> and returns its result (given: it uses <see cref="EntryPoint"/>).</summary>
    public int Invoke(long offset = 0) => MachineCode.Call(EntryPoint(offset));

    /// <summary>
    /// Exercise 06.4 — unmaps the buffer (munmap). Disposing twice is harmless; afterwards <see cref="IsDisposed"/> is
    /// true and every method but Dispose throws ObjectDisposedException.
    /// </summary>
    public void Dispose()
    {
        // BEGIN SOLUTION
        Memory.Dispose();
        // END SOLUTION
    }
}

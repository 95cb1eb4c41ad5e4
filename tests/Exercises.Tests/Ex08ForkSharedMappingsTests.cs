using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Exercises;
using Grading;
using Lessons.Posix;

namespace Exercises.Tests;

public unsafe class Ex08ForkSharedMappingsTests
{
    static bool IsMapped(nint address) => ProcMaps.Find(address) is not null;

    static bool MarkedForChildren(MethodInfo m) =>
        m.IsStatic && (m.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) != 0;

    /// <summary>Runs the student's Reply in this process on a private page holding <paramref name="request"/>.</summary>
    static (int Code, int ReplyLength, byte[] Reply) ReplyInProcess(byte[] request, int? length = null)
    {
        using var page = Mman.MapAnonymous(SysConf.PageSize);
        byte* p = (byte*)page.Address;
        *(int*)(p + MessageExchange.RequestLengthOffset) = length ?? request.Length;
        *(int*)(p + MessageExchange.ReplyLengthOffset) = -7;
        request.CopyTo(new Span<byte>(p + MessageExchange.RequestOffset, request.Length));
        int code = MessageExchange.Reply(page.Address);
        int n = *(int*)(p + MessageExchange.ReplyLengthOffset);
        return (code, n, new ReadOnlySpan<byte>(p + MessageExchange.ReplyOffset, Math.Clamp(n, 0, MessageExchange.MaxMessageBytes)).ToArray());
    }

    [Fact, Graded(lesson: 8, points: 2)]
    public void ReplyUpperCasesTheRequestIntoTheReplySlot()
    {
        var (code, n, reply) = ReplyInProcess("hello, child 42"u8.ToArray());
        Assert.Equal(0, code);
        Assert.Equal(15, n);
        Assert.Equal("HELLO, CHILD 42", Encoding.UTF8.GetString(reply));
    }

    [Fact, Graded(lesson: 8, points: 1)]
    public void ReplyOnZerosReturnsZeroAndTheReplyIsEmpty()
    {
        using var page = Mman.MapAnonymous(SysConf.PageSize);
        Assert.Equal(0, MessageExchange.Reply(page.Address));
        Assert.All(page.Span.ToArray(), b => Assert.Equal(0, b));
    }

    [Fact, Graded(lesson: 8, points: 2)]
    public void ReplyRunsInAForkedChild()
    {
        Assert.True(MarkedForChildren(typeof(MessageExchange).GetMethod(nameof(MessageExchange.Reply))!),
            "Reply must stay static and [MethodImpl(MethodImplOptions.AggressiveOptimization)]: it runs in forked children");
        using var page = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        byte* p = (byte*)page.Address;
        "fork me"u8.CopyTo(new Span<byte>(p + MessageExchange.RequestOffset, 7));
        *(int*)(p + MessageExchange.RequestLengthOffset) = 7;
        Assert.Equal(0, Fork.Run(MessageExchange.Reply, page.Address).ExitCode);
        Assert.Equal(7, *(int*)(p + MessageExchange.ReplyLengthOffset));
        Assert.Equal("FORK ME", Encoding.UTF8.GetString(p + MessageExchange.ReplyOffset, 7));
    }

    [Fact, Graded(lesson: 8, points: 3)]
    public void ExchangeGetsTheChildsReply()
    {
        Assert.Equal("HELLO", MessageExchange.Exchange("hello"));
        Assert.Equal("GOODBYE, PARENT!", MessageExchange.Exchange("Goodbye, parent!"));
    }

    [Fact, Graded(lesson: 8, points: 2)]
    public void ExchangeRefusesMessagesThatDoNotFit()
    {
        Assert.Throws<ArgumentNullException>(() => MessageExchange.Exchange(null!));
        Assert.Throws<ArgumentException>(() => MessageExchange.Exchange(new string('x', MessageExchange.MaxMessageBytes + 1)));
        Assert.Equal(new string('X', MessageExchange.MaxMessageBytes), MessageExchange.Exchange(new string('x', MessageExchange.MaxMessageBytes)));
    }

    [Fact, Graded(lesson: 8, points: 2)]
    public void ACounterStartsAtZeroAndAddsInThisProcess()
    {
        using var c = new SharedCounter();
        Assert.Equal(0, c.Value);
        Assert.Equal(5, c.Add(5));
        Assert.Equal(2, c.Add(-3));
        Assert.Equal(2, c.Value);
        Assert.Equal(0, c.Address % SysConf.PageSize);
    }

    [StructLayout(LayoutKind.Sequential)]
    struct CountingArgs
    {
        public nint Counter;
        public long Count;   // 0 on the warm-up's zeros: return at once
        public int Ready;
        public int Go;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int CountInChild(nint arg)
    {
        var a = (CountingArgs*)arg;
        long k = a->Count;
        if (k == 0) return 0;
        Interlocked.Increment(ref a->Ready);
        while (Volatile.Read(ref a->Go) == 0)
            ChildSafe.SchedYield(); // a child calls libc only through ChildSafe
        for (long i = 0; i < k; i++)
            SharedCounter.AddAt(a->Counter, 1);
        return 0;
    }

    /// <summary>Forks <paramref name="children"/> children that wait at a barrier and then each call AddAt <paramref name="each"/> times.</summary>
    static void CountFromChildren(SharedCounter counter, int children, long each)
    {
        Assert.True(MarkedForChildren(typeof(SharedCounter).GetMethod(nameof(SharedCounter.AddAt))!),
            "AddAt must stay static and [MethodImpl(MethodImplOptions.AggressiveOptimization)]: it runs in forked children");
        using var control = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        using (var scratch = Mman.MapAnonymous(SysConf.PageSize))
            SharedCounter.AddAt(scratch.Address, 0); // compiled in the parent before any child calls it
        var a = (CountingArgs*)control.Address;
        a->Counter = counter.Address;
        a->Count = each;
        var started = new List<ForkedChild>();
        try
        {
            for (int i = 0; i < children; i++)
                started.Add(Fork.Start(CountInChild, control.Address));
            while (Volatile.Read(ref a->Ready) < children)
                Thread.Yield();
            Volatile.Write(ref a->Go, 1);
            foreach (var c in started)
                Assert.Equal(0, c.Wait().ExitCode);
        }
        finally
        {
            foreach (var c in started)
                c.Dispose();
        }
    }

    [Fact, Graded(lesson: 8, points: 4)]
    public void ConcurrentChildrenLoseNoAddition()
    {
        using var counter = new SharedCounter();
        counter.Add(1000);
        CountFromChildren(counter, 8, 10_000_000);
        Assert.Equal(80_001_000, counter.Value);
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 8, points: 2, Hidden = true)]
    public void ReplyKeepsMultiByteCharactersAndRefusesBadLengths()
    {
        var (code, n, reply) = ReplyInProcess(Encoding.UTF8.GetBytes("héllo wörld ✓ z{a`"));
        Assert.Equal(0, code);
        Assert.Equal("HéLLO WöRLD ✓ Z{A`", Encoding.UTF8.GetString(reply, 0, n));
        Assert.Equal(1, ReplyInProcess([], -1).Code);
        var tooLong = ReplyInProcess([], MessageExchange.MaxMessageBytes + 1);
        Assert.Equal(1, tooLong.Code);
        Assert.Equal(-7, tooLong.ReplyLength);
    }

    [Fact, Graded(lesson: 8, points: 2, Hidden = true)]
    public void ExchangeHandlesEmptyNonAsciiAndRepeatedMessages()
    {
        Assert.Equal("", MessageExchange.Exchange(""));
        Assert.Equal("ÄÖÜ äöü Ω!", MessageExchange.Exchange("ÄÖÜ äöü Ω!"));
        for (int i = 0; i < 20; i++)
            Assert.Equal($"ROUND {i}", MessageExchange.Exchange($"round {i}"));
    }

    [Fact, Graded(lesson: 8, points: 2, Hidden = true)]
    public void ExchangeRefusesTooLongMessagesByBytesNotCharacters()
    {
        string s = new('é', MessageExchange.MaxMessageBytes / 2 + 1); // fewer characters than bytes allowed, too many bytes
        Assert.Throws<ArgumentException>(() => MessageExchange.Exchange(s));
    }

    [Fact, Graded(lesson: 8, points: 2, Hidden = true)]
    public void TwoCountersAreIndependentAndDisposeUnmaps()
    {
        var c1 = new SharedCounter();
        using var c2 = new SharedCounter();
        nint a = c1.Address;
        CountFromChildren(c1, 2, 1000);
        c2.Add(7);
        Assert.Equal(2000, c1.Value);
        Assert.Equal(7, c2.Value);
        // A shared anonymous mapping has an inode of its own: a parallel test may map another page at the same address
        // once this one is gone, but not this inode.
        var page = ProcMaps.Find(a);
        Assert.True(page is { Permissions: "rw-s" }, $"the counter's page at 0x{a:x} is not a shared mapping: {page}");
        c1.Dispose();
        c1.Dispose();
        Assert.False(ProcMaps.Find(a) is { Permissions: "rw-s" } after && after.Inode == page.Inode,
            $"the counter's shared page at 0x{a:x} (inode {page.Inode}) is still mapped after Dispose");
        Assert.Throws<ObjectDisposedException>(() => c1.Value);
        Assert.Throws<ObjectDisposedException>(() => c1.Add(1));
    }

    [Fact, Graded(lesson: 8, points: 3, Hidden = true)]
    public void ManyChildrenStayExact()
    {
        using var counter = new SharedCounter();
        CountFromChildren(counter, 8, 5_000_000);
        Assert.Equal(40_000_000, counter.Value);
        Assert.Equal(-1, counter.Add(-40_000_001));
    }

    // Races are found only by luck of scheduling on a busy machine: this check is deterministic.
    [Fact, Graded(lesson: 8, points: 2, Hidden = true)]
    public void AddAtUsesAnAtomicInstruction()
    {
        var method = typeof(SharedCounter).GetMethod(nameof(SharedCounter.AddAt))!;
        var il = method.GetMethodBody()!.GetILAsByteArray()!;
        var called = new List<MethodBase>();
        for (int i = 0; i + 4 < il.Length; i++)
        {
            if (il[i] is not (0x28 or 0x6F)) continue; // call, callvirt
            try { if (method.Module.ResolveMethod(BitConverter.ToInt32(il, i + 1)) is { } m) called.Add(m); }
            catch (ArgumentException) { } // a byte of an operand, not an opcode
        }
        Assert.True(called.Any(m => m.DeclaringType == typeof(Interlocked)),
            $"AddAt must add with System.Threading.Interlocked (it calls: {string.Join(", ", called.Select(m => $"{m.DeclaringType?.Name}.{m.Name}").Distinct())})");
    }
    // END HIDDEN TESTS
}

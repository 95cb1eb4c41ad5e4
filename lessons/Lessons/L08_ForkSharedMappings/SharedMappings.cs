using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Lessons.Posix;

namespace Lessons.L08_ForkSharedMappings;

/// <summary>
/// Lesson 08, step 1: the parent writes a message into an anonymous mapping, forks, the child reads it and writes its
/// reply there, and the parent reads the mapping again after the child exited.
/// </summary>
public sealed record MessageRun(
    string Flags, nint ParentAddress, nint ChildAddress, int ChildPid,
    string ParentWrote, string ChildRead, string ChildWrote, string ParentReadAfter, ChildOutcome Outcome)
{
    /// <summary>Parent and child used the same virtual address.</summary>
    public bool SameAddress => ParentAddress == ChildAddress;

    /// <summary>The parent reads what the child wrote: the pages are shared.</summary>
    public bool ParentSeesChildsWrite => ParentReadAfter == ChildWrote;

    public override string ToString() =>
        $"{Flags}\n" +
        $"  parent (pid {Environment.ProcessId}) wrote \"{ParentWrote}\" at 0x{ParentAddress:x}\n" +
        $"  child  (pid {ChildPid}) read  \"{ChildRead}\" at 0x{ChildAddress:x} and wrote \"{ChildWrote}\" there; {Outcome}\n" +
        $"  parent reads \"{ParentReadAfter}\" at 0x{ParentAddress:x} after the child exited\n" +
        $"  same virtual address in both: {(SameAddress ? "yes" : "no")}; the parent sees the child's write: {(ParentSeesChildsWrite ? "yes" : "no")}";
}

/// <summary>
/// The course's shared object, written as a C# struct of arrays: two arrays of 30 ints in one unmanaged struct
/// (fixed-size buffers), so the whole struct is plain bytes that can live in a mapping.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct PairTable
{
    public const int Length = 30;
    public fixed int A[Length];
    public fixed int B[Length];
    /// <summary>How many times a child has changed the table.</summary>
    public int ChildWrites;
}

/// <summary>Lesson 08, step 2: a <see cref="PairTable"/> in a MAP_SHARED mapping, changed by a child, read by the parent.</summary>
public sealed record TableRun(
    int Size, nint Address, int[] ABefore, int[] BBefore, int[] AAfter, int[] BAfter, int ChildWrites, ChildOutcome Outcome)
{
    /// <summary>Every B[i] the parent reads equals A[i]·A[i], as the child wrote them.</summary>
    public bool ParentSeesEveryChange => Enumerable.Range(0, PairTable.Length).All(i => BAfter[i] == AAfter[i] * AAfter[i]);

    public override string ToString()
    {
        var s = new StringBuilder();
        s.AppendLine($"sizeof(PairTable) = {Size} bytes at 0x{Address:x} (MAP_SHARED|MAP_ANONYMOUS); the child: {Outcome}");
        s.AppendLine("   i | before: A  B | after: A    B");
        foreach (int i in new[] { 0, 1, 2, 3, PairTable.Length - 2, PairTable.Length - 1 })
        {
            if (i == PairTable.Length - 2) s.AppendLine("  ...");
            s.AppendLine($"  {i,2} | {ABefore[i],9} {BBefore[i],2} | {AAfter[i],8} {BAfter[i],4}");
        }
        s.Append($"child writes counted in the table: {ChildWrites}; the parent sees all {PairTable.Length} changes: {(ParentSeesEveryChange ? "yes" : "no")}");
        return s.ToString();
    }
}

/// <summary>
/// Lesson 08, step 3: a pointer to a malloc'd block that the parent made after the fork, passed to the child through
/// shared memory. The heap is private: the child's copy of those bytes is what lay there at the fork.
/// </summary>
public sealed record HeapPointerRun(nint Pointer, string ParentSees, string ChildSees, ChildOutcome Outcome)
{
    /// <summary>The child did not find the parent's text behind the same pointer.</summary>
    public bool Differs => ParentSees != ChildSees;

    public override string ToString() =>
        $"pointer 0x{Pointer:x}, malloc'd by the parent after the fork and written to shared memory\n" +
        $"  the parent reads there: \"{ParentSees}\"\n" +
        $"  the child reads there:  {(Outcome.ExitedNormally ? $"\"{ChildSees}\"" : "(nothing)")}; {Outcome}\n" +
        $"  same pointer, different bytes: {(Differs ? "yes" : "no")}";
}

/// <summary>Lesson 08, step 3: where a managed object lay before and after a garbage collection.</summary>
public sealed record MovedObject(nint Before, nint After, int GenerationBefore, int GenerationAfter)
{
    public bool Moved => Before != After;

    public override string ToString() =>
        $"object at 0x{Before:x} (generation {GenerationBefore}); after GC.Collect() at 0x{After:x} (generation {GenerationAfter}): " +
        $"moved: {(Moved ? "yes" : "no")}";
}

/// <summary>
/// Lesson 08, step 4: <see cref="Children"/> forked children each adding 1 to a shared counter
/// <see cref="IncrementsEach"/> times, all released at once by a start barrier.
/// </summary>
public sealed record RaceRun(int Children, long IncrementsEach, bool Atomic, long Obtained, TimeSpan Elapsed, int StartRetries)
{
    public long Expected => Children * IncrementsEach;
    public long Lost => Expected - Obtained;

    /// <summary>Wall time of the counting phase (from "go" to the last child's "done") per increment of all children.</summary>
    public double NanosecondsPerIncrement => Elapsed.TotalNanoseconds / Expected;

    public override string ToString() =>
        $"{Children,2} {(Children == 1 ? "child   " : "children")} x {IncrementsEach} {(Atomic ? "Interlocked.Increment" : "plain read+write  ")}: " +
        $"expected {Expected,9}, obtained {Obtained,9}, lost {Lost,9} ({100.0 * Lost / Expected,5:0.0}%), " +
        $"{NanosecondsPerIncrement,6:0.00} ns per increment";
}

/// <summary>
/// Lesson 08: anonymous mappings shared across fork (MAP_SHARED) or copied on write (MAP_PRIVATE), a struct in shared
/// memory, why pointers do not travel, and races on a shared counter. Every child body here follows
/// <see cref="ChildBody"/>'s rules: static, AggressiveOptimization, no allocation, and on zeros it returns at once.
/// </summary>
public static class SharedMappings
{
    /// <summary>Bytes of text a message slot holds.</summary>
    public const int MessageCapacity = 64;

    /// <summary>A length-prefixed UTF-8 message in memory (the target mapping and the reply slot).</summary>
    [StructLayout(LayoutKind.Sequential)]
    unsafe struct Message
    {
        public int Length;
        public fixed byte Bytes[MessageCapacity];
    }

    /// <summary>What the message child reads and reports, in a small MAP_SHARED page of its own.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct MessageArgs
    {
        public nint Target;      // the mapping under test (shared or private)
        public nint ChildSaw;    // the address the child used
        public int ChildPid;
        public Message Read;     // what the child found at Target
        public Message Reply;    // what the child writes to Target
    }

    /// <summary>
    /// Maps one page MAP_SHARED or MAP_PRIVATE (anonymous), writes <paramref name="hello"/> into it, forks; the child reads
    /// the page into a separate shared result page, writes <paramref name="goodbye"/> and exits; the parent reads the page.
    /// </summary>
    public static unsafe MessageRun HelloGoodbye(bool shared, string hello = "hello", string goodbye = "goodbye")
    {
        using var target = Mman.MapAnonymous(SysConf.PageSize, shared: shared);
        using var results = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        var args = (MessageArgs*)results.Address;
        var message = (Message*)target.Address;
        Put(message, hello);
        args->Target = target.Address;
        Put(&args->Reply, goodbye);
        var outcome = Fork.Run(ReadAndReply, results.Address);
        return new MessageRun(
            $"MAP_{(shared ? "SHARED" : "PRIVATE")}|MAP_ANONYMOUS", target.Address, args->ChildSaw, args->ChildPid,
            hello, Get(&args->Read), goodbye, Get(message), outcome);
    }

    static unsafe void Put(Message* m, string text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        if (n > MessageCapacity)
            throw new ArgumentException($"\"{text}\" is {n} bytes in UTF-8; a message holds at most {MessageCapacity}", nameof(text));
        m->Length = Encoding.UTF8.GetBytes(text, new Span<byte>(m->Bytes, MessageCapacity));
    }

    static unsafe string Get(Message* m) =>
        Encoding.UTF8.GetString(m->Bytes, Math.Clamp(m->Length, 0, MessageCapacity));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int ReadAndReply(nint arg)
    {
        var a = (MessageArgs*)arg;
        if (a->Target == 0) return 0;
        var m = (Message*)a->Target;
        a->ChildSaw = a->Target;
        a->ChildPid = ChildSafe.GetPid();
        a->Read = *m;
        *m = a->Reply;
        return 0;
    }

    /// <summary>
    /// A <see cref="PairTable"/> in a fresh MAP_SHARED|MAP_ANONYMOUS mapping: the parent sets A[i] = i + 1 and B[i] = 0,
    /// a child sets every B[i] to A[i]·A[i], and the parent reads the table after the child exited.
    /// </summary>
    public static unsafe TableRun TableDemo()
    {
        using var mapping = Mman.MapAnonymous(sizeof(PairTable), shared: true);
        var t = (PairTable*)mapping.Address;
        for (int i = 0; i < PairTable.Length; i++)
        {
            t->A[i] = i + 1;
            t->B[i] = 0;
        }
        int[] aBefore = Copy(t->A), bBefore = Copy(t->B);
        var outcome = Fork.Run(SquareIntoB, mapping.Address);
        return new TableRun(sizeof(PairTable), mapping.Address, aBefore, bBefore, Copy(t->A), Copy(t->B), t->ChildWrites, outcome);
    }

    static unsafe int[] Copy(int* p) => new ReadOnlySpan<int>(p, PairTable.Length).ToArray();

    /// <summary>The table child: on the warm-up's zeros it squares zeros, which changes nothing that matters.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int SquareIntoB(nint arg)
    {
        var t = (PairTable*)arg;
        for (int i = 0; i < PairTable.Length; i++)
            t->B[i] = t->A[i] * t->A[i];
        t->ChildWrites++;
        return 0;
    }

    /// <summary>What the pointer child reads: a barrier, the pointer, and a slot for the bytes it found there.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct PointerArgs
    {
        public int Armed;   // 0 on the warm-up's zeros: return at once
        public int Go;      // set by the parent once the pointer is in place
        public nint Pointer;
        public Message Found;
    }

    /// <summary>
    /// Forks a child that waits; then the parent mallocs a block, writes a text into it and hands its address to the child
    /// through shared memory; the child copies what it finds at that address. Its heap is its own copy, made at the fork,
    /// when the block did not yet hold the parent's text.
    /// </summary>
    public static unsafe HeapPointerRun HeapPointerDemo(string text = "written by the parent after the fork")
    {
        int n = Encoding.UTF8.GetByteCount(text);
        if (n > MessageCapacity)
            throw new ArgumentException($"at most {MessageCapacity} bytes", nameof(text));
        using var shared = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        var a = (PointerArgs*)shared.Address;
        a->Armed = 1;
        using var child = Fork.Start(CopyFromPointer, shared.Address);
        nint block = LibcHeap.Malloc(MessageCapacity);
        try
        {
            var bytes = new Span<byte>((void*)block, MessageCapacity);
            bytes.Clear();
            Encoding.UTF8.GetBytes(text, bytes);
            a->Pointer = block;
            Volatile.Write(ref a->Go, 1);
            var outcome = child.Wait();
            string childSees = Printable(new ReadOnlySpan<byte>(a->Found.Bytes, Math.Clamp(a->Found.Length, 0, MessageCapacity)));
            return new HeapPointerRun(block, text, childSees, outcome);
        }
        finally
        {
            new Span<byte>((void*)block, MessageCapacity).Clear(); // a later run must not find this text in its child
            LibcHeap.Free(block);
        }
    }

    /// <summary>Bytes as text, non-printable ones as \xNN (a block's old contents are rarely text).</summary>
    static string Printable(ReadOnlySpan<byte> bytes)
    {
        var s = new StringBuilder();
        foreach (byte b in bytes)
            s.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}");
        return s.ToString();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int CopyFromPointer(nint arg)
    {
        var a = (PointerArgs*)arg;
        if (a->Armed == 0) return 0;
        while (Volatile.Read(ref a->Go) == 0)
            ChildSafe.SchedYield();
        byte* p = (byte*)a->Pointer;
        int n = 0;
        while (n < MessageCapacity && (n < 16 || p[n] != 0)) // at least 16 bytes, up to the first 0 after them
        {
            a->Found.Bytes[n] = p[n];
            n++;
        }
        a->Found.Length = n;
        return 0;
    }

    /// <summary>
    /// A fresh object's address, a full compacting garbage collection, and its address again. Short-lived garbage is
    /// allocated before the object, so that compaction has free space below it to slide it into.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static MovedObject MovingObjectDemo()
    {
        MakeGarbage();
        var o = new byte[24];
        nint before = AddressOf(o);
        int g0 = GC.GetGeneration(o);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        nint after = AddressOf(o);
        return new MovedObject(before, after, g0, GC.GetGeneration(o));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void MakeGarbage()
    {
        for (int i = 0; i < 10_000; i++)
            GC.KeepAlive(new byte[32]);
    }

    static nint AddressOf(object o) => Unsafe.As<object, nint>(ref o);

    /// <summary>The race page: the counter on a cache line of its own, the barrier on another.</summary>
    [StructLayout(LayoutKind.Explicit)]
    struct RaceArgs
    {
        [FieldOffset(0)] public long Counter;
        [FieldOffset(128)] public long Increments;  // 0 on the warm-up's zeros: return at once
        [FieldOffset(136)] public int Ready;
        [FieldOffset(140)] public int Go;
        [FieldOffset(144)] public int Done;
        [FieldOffset(148)] public int Atomic;  // 1: Interlocked.Increment, 0: a plain read and write
    }

    /// <summary>
    /// Forks <paramref name="children"/> children (<see cref="Fork.Start"/>, so they run at the same time); each waits at a
    /// start barrier in the shared page, then adds 1 to a shared counter <paramref name="incrementsEach"/> times — with
    /// <see cref="Interlocked.Increment(ref long)"/> when <paramref name="atomic"/>, else as a plain read and write.
    /// </summary>
    public static unsafe RaceRun Race(int children, long incrementsEach, bool atomic)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(children);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(incrementsEach);
        using var shared = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        var a = (RaceArgs*)shared.Address;
        a->Increments = incrementsEach;
        a->Atomic = atomic ? 1 : 0;
        ChildBody body = AddToCounter;
        var started = new List<ForkedChild>();
        try
        {
            for (int i = 0; i < children; i++)
                started.Add(Fork.Start(body, shared.Address));
            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref a->Ready) < children)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(10))
                    throw new TimeoutException($"only {a->Ready} of {children} children reached the start barrier");
                Thread.Yield();
            }
            var clock = Stopwatch.StartNew();
            Volatile.Write(ref a->Go, 1);
            while (Volatile.Read(ref a->Done) < children)
                Thread.Yield();
            clock.Stop();
            foreach (var c in started)
            {
                var outcome = c.Wait();
                if (outcome.ExitCode != 0)
                    throw new InvalidOperationException($"a counting child failed: {outcome}");
            }
            return new RaceRun(children, incrementsEach, atomic, Volatile.Read(ref a->Counter), clock.Elapsed,
                started.Sum(c => c.StartRetries));
        }
        finally
        {
            foreach (var c in started)
                c.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int AddToCounter(nint arg)
    {
        var a = (RaceArgs*)arg;
        long k = a->Increments;
        if (k == 0) return 0;
        Interlocked.Increment(ref a->Ready);
        while (Volatile.Read(ref a->Go) == 0)
            ChildSafe.SchedYield();
        if (a->Atomic != 0)
            for (long i = 0; i < k; i++)
                Interlocked.Increment(ref a->Counter);
        else
            for (long i = 0; i < k; i++)
                Volatile.Write(ref a->Counter, Volatile.Read(ref a->Counter) + 1); // read, add, write: not one step
        Interlocked.Increment(ref a->Done);
        return 0;
    }
}

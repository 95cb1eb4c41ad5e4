using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Lessons.L08_ForkSharedMappings;

/// <summary>
/// One page's entry in <c>/proc/PID/pagemap</c> (8 bytes per virtual page). Bit 63: the page is present in RAM;
/// bit 56: it is mapped by this process only ("exclusively mapped", Linux 4.2 and later); bits 0–54: the physical
/// frame number (PFN), which the kernel shows only to a process with CAP_SYS_ADMIN (root) and reports as 0 to
/// everyone else.
/// </summary>
public readonly record struct PagemapEntry(ulong Raw)
{
    public bool Present => (Raw & (1UL << 63)) != 0;
    public bool Exclusive => (Raw & (1UL << 56)) != 0;
    public ulong Pfn => Raw & ((1UL << 55) - 1);

    public override string ToString() =>
        $"{(Present ? "present" : "not present")}, {(Exclusive ? "exclusive" : "shared with another process")}, frame {(Pfn == 0 ? "hidden (0)" : $"0x{Pfn:x}")}";
}

/// <summary>
/// Lesson 08: copy-on-write measured. A private page the parent wrote before the fork, looked at in the child before
/// and after the child writes it: the child's minor-fault count (field 10 of <c>/proc/PID/stat</c>) and the page's
/// pagemap entry in the child and in the parent.
/// </summary>
public sealed record CopyOnWriteRun(
    nint Address, int ChildPid, long FaultsBefore, long FaultsAfter,
    PagemapEntry ChildBefore, PagemapEntry ChildAfter, PagemapEntry ParentBefore, PagemapEntry ParentAfter,
    byte ParentByteAfter, ChildOutcome Outcome)
{
    /// <summary>The minor faults the child took while it wrote the page.</summary>
    public long FaultsDuringWrite => FaultsAfter - FaultsBefore;

    /// <summary>The kernel showed real frame numbers (this process is root); otherwise they read 0.</summary>
    public bool FramesVisible => ParentBefore.Pfn != 0;

    public override string ToString() =>
        $"a MAP_PRIVATE page at 0x{Address:x}, written by the parent before the fork; child pid {ChildPid}; {Outcome}\n" +
        $"  before the child's write: child  {ChildBefore}; minor faults so far {FaultsBefore}\n" +
        $"                            parent {ParentBefore}\n" +
        $"  after the child's write:  child  {ChildAfter}; minor faults so far {FaultsAfter} (+{FaultsDuringWrite})\n" +
        $"                            parent {ParentAfter}; its byte 0 is still 0x{ParentByteAfter:x2}";
}

/// <summary>Lesson 08: copy-on-write, measured from the parent while a forked child waits between steps.</summary>
public static class CopyOnWrite
{
    /// <summary>The steps the child goes through, in a small MAP_SHARED page.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct Steps
    {
        public int Armed;    // 0 on the warm-up's zeros: return at once
        public int Ready;    // child: "I am here and have not written yet"
        public int Write;    // parent: "write now"
        public int Written;  // child: "done"
        public int Leave;    // parent: "you may exit"
        public nint Target;  // the private page
    }

    /// <summary>
    /// Maps a private anonymous page, fills it in the parent, forks; reads the child's fault count and both pagemap
    /// entries, lets the child write one byte, reads them again, lets the child exit and reaps it.
    /// </summary>
    public static unsafe CopyOnWriteRun Measure()
    {
        long page = SysConf.PageSize;
        using var target = Mman.MapAnonymous(page, shared: false);
        using var control = Mman.MapAnonymous(page, shared: true);
        target.Span.Fill(0x11); // present in RAM before the fork, and not zero
        var s = (Steps*)control.Address;
        s->Target = target.Address;
        s->Armed = 1;
        using var child = Fork.Start(WriteWhenTold, control.Address);
        try
        {
            Until(() => Volatile.Read(ref s->Ready) != 0, "the child to get ready");
            long faultsBefore = MinorFaults(child.Pid);
            var childBefore = Entry(child.Pid, target.Address);
            var parentBefore = Entry(Environment.ProcessId, target.Address);
            Volatile.Write(ref s->Write, 1);
            Until(() => Volatile.Read(ref s->Written) != 0, "the child's write");
            long faultsAfter = MinorFaults(child.Pid);
            var childAfter = Entry(child.Pid, target.Address);
            var parentAfter = Entry(Environment.ProcessId, target.Address);
            Volatile.Write(ref s->Leave, 1);
            var outcome = child.Wait();
            return new CopyOnWriteRun(target.Address, child.Pid, faultsBefore, faultsAfter,
                childBefore, childAfter, parentBefore, parentAfter, target.Span[0], outcome);
        }
        finally
        {
            Volatile.Write(ref s->Write, 1);
            Volatile.Write(ref s->Leave, 1); // whatever happened, the child may end (Dispose reaps it)
        }
    }

    static void Until(Func<bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(5))
                throw new TimeoutException($"waited 5 s for {what}");
            Thread.Yield();
        }
    }

    /// <summary>Field 10 of /proc/PID/stat: the minor page faults the process has taken.</summary>
    public static long MinorFaults(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields 3, 4, ... after "pid (comm) "
        return long.Parse(fields[10 - 3], CultureInfo.InvariantCulture);
    }

    /// <summary>The pagemap entry of the page holding <paramref name="address"/> in process <paramref name="pid"/>.</summary>
    public static PagemapEntry Entry(int pid, nint address)
    {
        using var file = File.OpenHandle($"/proc/{pid}/pagemap");
        Span<byte> entry = stackalloc byte[8];
        long offset = (long)((ulong)address / (ulong)SysConf.PageSize) * 8;
        if (RandomAccess.Read(file, entry, offset) != 8)
            throw new IOException($"/proc/{pid}/pagemap: short read at offset {offset}");
        return new PagemapEntry(BitConverter.ToUInt64(entry));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int WriteWhenTold(nint arg)
    {
        var s = (Steps*)arg;
        if (s->Armed == 0) return 0;
        Volatile.Write(ref s->Ready, 1);
        while (Volatile.Read(ref s->Write) == 0)
            ChildSafe.SchedYield();
        *(byte*)s->Target = 0x22; // the first write to the private page since the fork
        Volatile.Write(ref s->Written, 1);
        while (Volatile.Read(ref s->Leave) == 0)
            ChildSafe.SchedYield();
        return 0;
    }
}

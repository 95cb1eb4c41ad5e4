using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.Posix;

[Collection(ProcessWideState.Name)] // the break is one per process: no other test mallocs meanwhile
public class ProgramBreakTests
{
    [Fact]
    public void TheBreakIsInsideTheHeapRegionOrAtItsEnd()
    {
        LibcHeap.Free(LibcHeap.Malloc(16)); // make sure some thread's malloc has run
        nint brk = ProgramBreak.Current;
        var heap = ProcMaps.Read().FirstOrDefault(r => r.Kind == RegionKind.Heap);
        Assert.NotNull(heap); // the runtime's main thread allocates with malloc during start-up
        Assert.InRange((ulong)brk, heap.Start, heap.End);
    }

    [Fact]
    public void GrowThenGiveBackWhatTheWorkbookGrew()
    {
        nint old = ProgramBreak.Sbrk(64 * 1024);
        Assert.Equal(old + 64 * 1024, ProgramBreak.Current); // run alone: only this test moved it
        Assert.Equal(old + 64 * 1024, ProgramBreak.Sbrk(-64 * 1024)); // what it grew it may give back
        Assert.Equal(old, ProgramBreak.Current);
    }

    [Fact]
    public void ShrinkingBelowMallocsBreakIsRefused()
    {
        nint before = ProgramBreak.Current;
        var e = Assert.Throws<InvalidOperationException>(() => ProgramBreak.Sbrk(-4096));
        Assert.Contains("glibc's malloc owns", e.Message);
        Assert.Throws<InvalidOperationException>(() => ProgramBreak.Brk(before - 4096));
        Assert.True(ProgramBreak.Current >= before);
    }

    [Fact]
    public void AnImpossibleGrowthIsEnomem()
    {
        var e = Assert.Throws<PosixException>(() => ProgramBreak.Sbrk(long.MaxValue)); // the new break would overflow
        Assert.Equal(Errno.ENOMEM, e.Errno);
    }
}

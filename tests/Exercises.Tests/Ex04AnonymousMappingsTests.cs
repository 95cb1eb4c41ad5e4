using System.Runtime.InteropServices;
using Exercises;
using Grading;
using Lessons.Posix;

namespace Exercises.Tests;

public class Ex04AnonymousMappingsTests
{
    [Theory, Graded(lesson: 4, points: 2)]
    [InlineData(1, 4096, 4096)]
    [InlineData(42, 4096, 4096)]
    [InlineData(4096, 4096, 4096)]
    [InlineData(4097, 4096, 8192)]
    [InlineData(42, 65536, 65536)]
    public void RoundsUpToWholePages(long size, long page, long expected) =>
        Assert.Equal(expected, Ex04AnonymousMappings.RoundToPages(size, page));

    [Fact, Graded(lesson: 4, points: 1)]
    public void RefusesANegativeSize() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.RoundToPages(-1, 4096));

    [Fact, Graded(lesson: 4, points: 1)]
    public void RefusesSizeZeroAsMmapDoes()
    {
        var mine = Assert.Throws<PosixException>(() => Ex04AnonymousMappings.RoundToPages(0, 4096));
        var mmap = Assert.Throws<PosixException>(() => Mman.MapAnonymous(0));
        Assert.Equal(Errno.EINVAL, mine.Errno);
        Assert.Equal(mmap.Errno, mine.Errno);
    }

    static long Page => SysConf.PageSize;

    static void WriteEvery(nint a, long pages, long stride)
    {
        for (long i = 0; i < pages; i += stride) Marshal.WriteByte(a, (int)(i * Page), 1);
    }

    static void ReadEvery(nint a, long pages, long stride)
    {
        for (long i = 0; i < pages; i += stride) _ = Marshal.ReadByte(a, (int)(i * Page));
    }

    [Fact, Graded(lesson: 4, points: 3)]
    public void MeasuresTheFaultsOfWritingEveryFourthPage()
    {
        WriteEvery(0, 0, 1); // compile the helper before measuring
        long faults = Ex04AnonymousMappings.MeasureMinorFaults(1024, a => WriteEvery(a, 1024, 4));
        Assert.InRange(faults, 256, 256 + 40);
    }

    [Fact, Graded(lesson: 4, points: 1)]
    public void MeasureRefusesNoPages() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.MeasureMinorFaults(0, _ => { }));

    [Theory, Graded(lesson: 4, points: 2)]
    [InlineData(64, AllocationSource.Heap)]
    [InlineData(100_000, AllocationSource.Heap)]
    [InlineData(131072, AllocationSource.Mapping)]
    [InlineData(1 << 20, AllocationSource.Mapping)]
    public void ChoosesByTheDefaultThreshold(long size, AllocationSource expected) =>
        Assert.Equal(expected, Ex04AnonymousMappings.ChooseHeapOrMapping(size, 128 * 1024));

    [Theory, Graded(lesson: 4, points: 2)]
    [InlineData(0, 0, 4096, 0)]
    [InlineData(0, 1, 4096, 1)]
    [InlineData(0, 4096, 4096, 1)]
    [InlineData(4095, 2, 4096, 2)]
    [InlineData(4096, 8192, 4096, 2)]
    public void CountsTheTouchedPages(long offset, long length, long page, long expected) =>
        Assert.Equal(expected, Ex04AnonymousMappings.PagesTouched(offset, length, page));

    // BEGIN HIDDEN TESTS
    [Theory, Graded(lesson: 4, points: 2, Hidden = true)]
    [InlineData(0)]
    [InlineData(-4096)]
    [InlineData(3000)]
    [InlineData(4097)]
    public void RefusesAPageSizeThatIsNotAPowerOfTwo(long page) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.RoundToPages(42, page));

    [Fact, Graded(lesson: 4, points: 2, Hidden = true)]
    public void OverflowsNearTheTopOfLong()
    {
        Assert.Equal(long.MaxValue - 4095, Ex04AnonymousMappings.RoundToPages(long.MaxValue - 4095, 4096));
        Assert.Throws<OverflowException>(() => Ex04AnonymousMappings.RoundToPages(long.MaxValue - 4094, 4096));
        Assert.Throws<OverflowException>(() => Ex04AnonymousMappings.RoundToPages(long.MaxValue, 4096));
    }

    [Theory, Graded(lesson: 4, points: 3, Hidden = true)]
    [InlineData(0, 32, AllocationSource.Mapping)]          // malloc(0) is a 32-byte chunk
    [InlineData(0, 33, AllocationSource.Heap)]
    [InlineData(131048, 131072, AllocationSource.Heap)]    // chunk 131056
    [InlineData(131049, 131072, AllocationSource.Mapping)] // chunk 131072: the comparison is >=
    [InlineData(131056, 131072, AllocationSource.Mapping)]
    [InlineData(24, 33, AllocationSource.Heap)]            // 24 + 8 = 32
    [InlineData(25, 48, AllocationSource.Mapping)]         // 25 + 8 rounds up to 48
    public void ComparesTheChunkSizeNotTheRequest(long size, long threshold, AllocationSource expected) =>
        Assert.Equal(expected, Ex04AnonymousMappings.ChooseHeapOrMapping(size, threshold));

    [Fact, Graded(lesson: 4, points: 1, Hidden = true)]
    public void RefusesBadHeapArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.ChooseHeapOrMapping(-1, 131072));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.ChooseHeapOrMapping(10, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.ChooseHeapOrMapping(long.MaxValue, 131072));
    }

    [Fact, Graded(lesson: 4, points: 2, Hidden = true)]
    public void CountsPagesAtTheEdgesAndRefusesBadInput()
    {
        Assert.Equal(3, Ex04AnonymousMappings.PagesTouched(4095, 4098, 4096));
        Assert.Equal(1, Ex04AnonymousMappings.PagesTouched(long.MaxValue - 1, 1, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.PagesTouched(-1, 1, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.PagesTouched(0, -1, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex04AnonymousMappings.PagesTouched(0, 1, 1000));
        Assert.Throws<OverflowException>(() => Ex04AnonymousMappings.PagesTouched(long.MaxValue, 2, 4096));
    }
    [Fact, Graded(lesson: 4, points: 3, Hidden = true)]
    public void MeasuresReadsAndWritesOfAPatternItDoesNotKnow()
    {
        ReadEvery(0, 0, 1);
        WriteEvery(0, 0, 1);
        // Reading every page maps the zero page (one fault each); writing 100 of them then faults again (copy from zero).
        long faults = Ex04AnonymousMappings.MeasureMinorFaults(512, a => { ReadEvery(a, 512, 1); WriteEvery(a, 100, 1); });
        Assert.InRange(faults, 612, 612 + 40);
        long once = Ex04AnonymousMappings.MeasureMinorFaults(64, a => { for (int k = 0; k < 1000; k++) WriteEvery(a, 1, 1); });
        Assert.InRange(once, 1, 20);
    }

    [Fact, Graded(lesson: 4, points: 2, Hidden = true)]
    public void UnmapsTheRegionEvenWhenTouchThrows()
    {
        nint seen = 0;
        Assert.Throws<InvalidOperationException>(() =>
            Ex04AnonymousMappings.MeasureMinorFaults(300, a => { seen = a; throw new InvalidOperationException("touch failed"); }));
        Assert.NotEqual(0, seen);
        var region = ProcMaps.Find(seen);
        Assert.True(region is null || region.Size < 300 * (ulong)Page || region.Start != (ulong)seen, "the 300-page mapping must be gone");
    }
    // END HIDDEN TESTS
}

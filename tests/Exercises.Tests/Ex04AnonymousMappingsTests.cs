using Exercises;
using Grading;

namespace Exercises.Tests;

public class Ex04AnonymousMappingsTests
{
    [Theory, Graded(lesson: 4, points: 2)]
    [InlineData(0, 4096, 0)]
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
    // END HIDDEN TESTS
}

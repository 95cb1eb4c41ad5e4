using Lessons.Heap;

namespace Lessons.L03_ProgramBreak;

/// <summary>What the buddy scheme wastes on one request size: the block it gets, and the bytes not asked for.</summary>
public sealed record BuddyWaste(long Request, long BlockSize)
{
    /// <summary>Header and rounding: BlockSize − Request.</summary>
    public long Wasted => BlockSize - Request;

    /// <summary>The wasted share of the block (0 to 1).</summary>
    public double WastedFraction => (double)Wasted / BlockSize;

    public override string ToString() => $"request {Request,7}  block {BlockSize,7}  wasted {Wasted,6} ({WastedFraction:P0})";
}

/// <summary>Lesson 03's figures of the buddy scheme (its pictures of the heap are <see cref="Plotting.HeapPicture"/>'s).</summary>
public static class BuddyDemo
{
    /// <summary>The block size and waste for each request size in <paramref name="requests"/> (see <see cref="BuddyAllocator.BlockSizeFor"/>).</summary>
    public static IReadOnlyList<BuddyWaste> Waste(IEnumerable<long> requests) =>
        requests.Select(r => new BuddyWaste(r, BuddyAllocator.BlockSizeFor(r))).ToList();
}

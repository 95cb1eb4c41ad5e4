using Lessons.Heap;
using Lessons.Plotting;

namespace Lessons.L03_ProgramBreak;

/// <summary>The heap of a <see cref="BuddyAllocator"/> after one step of a demonstration: what was done, and the blocks then.</summary>
public sealed record BuddySnapshot(string Step, IReadOnlyList<BuddyBlock> Blocks, long Break)
{
    public override string ToString() =>
        $"{Step,-22} break {Break,6}  " + string.Join(" ", Blocks.Select(b => $"[{b.Offset}+{b.Size}{(b.Free ? " free" : "")}]"));
}

/// <summary>What the buddy scheme wastes on one request size: the block it gets, and the bytes not asked for.</summary>
public sealed record BuddyWaste(long Request, long BlockSize)
{
    /// <summary>Header and rounding: BlockSize − Request.</summary>
    public long Wasted => BlockSize - Request;

    /// <summary>The wasted share of the block (0 to 1).</summary>
    public double WastedFraction => (double)Wasted / BlockSize;

    public override string ToString() => $"request {Request,7}  block {BlockSize,7}  wasted {Wasted,6} ({WastedFraction:P0})";
}

/// <summary>Lesson 03's pictures of the buddy scheme.</summary>
public static class BuddyDemo
{
    /// <summary>The current blocks and break of <paramref name="allocator"/>, labelled <paramref name="step"/>.</summary>
    public static BuddySnapshot Snapshot(BuddyAllocator allocator, string step)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        return new BuddySnapshot(step, allocator.Blocks(), allocator.Heap.Size);
    }

    /// <summary>
    /// One horizontal strip per snapshot (first at the top): live blocks and free blocks as bars from their offset,
    /// labelled with their size, and the break as the end of the strip.
    /// </summary>
    public static Figure Strips(IEnumerable<BuddySnapshot> snapshots, string title = "buddy blocks after each step")
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        return HeapPicture.Strips(snapshots.Select(s =>
            new HeapSnapshot(s.Step, s.Blocks.Select(b => new BlockInfo(b.Offset, b.Size, !b.Free)).ToList(), s.Break)), title);
    }

    /// <summary>The block size and waste for each request size in <paramref name="requests"/> (see <see cref="BuddyAllocator.BlockSizeFor"/>).</summary>
    public static IReadOnlyList<BuddyWaste> Waste(IEnumerable<long> requests) =>
        requests.Select(r => new BuddyWaste(r, BuddyAllocator.BlockSizeFor(r))).ToList();
}

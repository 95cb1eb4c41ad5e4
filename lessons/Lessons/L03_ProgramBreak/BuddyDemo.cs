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
        var list = snapshots.ToList();
        var figure = new Figure(title);
        foreach (bool free in new[] { false, true })
        {
            var rows = list.SelectMany(s => s.Blocks.Where(b => b.Free == free).Select(b => (s.Step, b))).ToList();
            figure.HorizontalBar(rows.Select(r => r.Step), rows.Select(r => r.b.Size), name: free ? "free block" : "allocated block",
                text: rows.Select(r => $"{r.b.Size}"), start: rows.Select(r => r.b.Offset));
        }
        figure.Layout["barmode"] = "overlay";
        figure.Layout["yaxis"] = new System.Text.Json.Nodes.JsonObject
        {
            ["autorange"] = "reversed",
            ["categoryorder"] = "array",
            ["categoryarray"] = new System.Text.Json.Nodes.JsonArray(list.Select(s => (System.Text.Json.Nodes.JsonNode?)s.Step).ToArray()),
        };
        return figure.XAxis("offset from HeapLo (bytes)");
    }

    /// <summary>The block size and waste for each request size in <paramref name="requests"/> (see <see cref="BuddyAllocator.BlockSizeFor"/>).</summary>
    public static IReadOnlyList<BuddyWaste> Waste(IEnumerable<long> requests) =>
        requests.Select(r => new BuddyWaste(r, BuddyAllocator.BlockSizeFor(r))).ToList();
}

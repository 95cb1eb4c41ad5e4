using System.Text.Json.Nodes;
using Lessons.Plotting;

namespace Lessons.Heap;

/// <summary>An allocator's heap after one step of a demonstration: what was done, its blocks, and the break (bytes above HeapLo).</summary>
public sealed record HeapSnapshot(string Step, IReadOnlyList<BlockInfo> Blocks, long Break)
{
    public override string ToString() => $"{Step,-22} break {Break,6}  " + string.Join(" ", Blocks);
}

/// <summary>Pictures of heaps: one horizontal strip of blocks per step.</summary>
public static class HeapPicture
{
    /// <summary>The current blocks and break of <paramref name="allocator"/>, labelled <paramref name="step"/>.</summary>
    public static HeapSnapshot Snapshot(IHeapView allocator, string step)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        return new HeapSnapshot(step, allocator.Blocks(), allocator.Heap.Size);
    }

    /// <summary>
    /// One horizontal strip per snapshot (first at the top): allocated and free blocks as bars from their offset,
    /// labelled with their size; a strip ends at the last block (the break, but for bookkeeping such as an epilogue).
    /// </summary>
    public static Figure Strips(IEnumerable<HeapSnapshot> snapshots, string title = "heap blocks after each step")
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        var list = snapshots.ToList();
        var figure = new Figure(title);
        foreach (bool allocated in new[] { true, false })
        {
            var rows = list.SelectMany(s => s.Blocks.Where(b => b.Allocated == allocated).Select(b => (s.Step, b))).ToList();
            figure.HorizontalBar(rows.Select(r => r.Step), rows.Select(r => r.b.Size), name: allocated ? "allocated block" : "free block",
                text: rows.Select(r => $"{r.b.Size}"), start: rows.Select(r => r.b.Offset));
        }
        figure.Layout["barmode"] = "overlay";
        figure.Layout["yaxis"] = new JsonObject
        {
            ["autorange"] = "reversed",
            ["categoryorder"] = "array",
            ["categoryarray"] = new JsonArray(list.Select(s => (JsonNode?)s.Step).ToArray()),
        };
        return figure.XAxis("offset from HeapLo (bytes)");
    }
}

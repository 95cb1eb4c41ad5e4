using System.Text.Json.Nodes;
using Lessons.Heap;

namespace Lessons.Plotting;

/// <summary>Pictures of heaps: one horizontal strip of blocks per step.</summary>
public static class HeapPicture
{
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

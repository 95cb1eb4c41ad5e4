using Lessons.Heap;
using Plotly.NET;

namespace Lessons.Plotting;

/// <summary>Pictures of heaps: one horizontal strip of blocks per step (Plotly.NET has bars, not heaps).</summary>
public static class HeapPicture
{
    /// <summary>
    /// One horizontal strip per snapshot (first at the top): allocated and free blocks as bars from their offset,
    /// labelled with their size; a strip ends at the last block (the break, but for bookkeeping such as an epilogue).
    /// </summary>
    public static GenericChart Strips(IEnumerable<HeapSnapshot> snapshots, string title = "heap blocks after each step")
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        var list = snapshots.ToList();
        var strips = new[] { true, false }.Select(allocated =>
        {
            var rows = list.SelectMany(s => s.Blocks.Where(b => b.Allocated == allocated).Select(b => (s.Step, b))).ToList();
            // Plotly.NET's Bar is horizontal: values are the lengths (x), keys the rows (y), Base where each starts.
            return Plotly.NET.CSharp.Chart.Bar<long, string, string>(
                values: rows.Select(r => r.b.Size),
                Keys: rows.Select(r => r.Step).ToList(),
                Name: allocated ? "allocated block" : "free block",
                MultiText: rows.Select(r => $"{r.b.Size}").ToList())
                .SetOnTraces("base", rows.Select(r => r.b.Offset).ToList());
        });
        return Plotly.NET.CSharp.Chart.Combine(strips)
            .Titled(title)
            .Set("barmode", "overlay")
            .Set("yaxis", new Dictionary<string, object>
            {
                ["autorange"] = "reversed",
                ["categoryorder"] = "array",
                ["categoryarray"] = list.Select(s => s.Step).ToList(),
                ["automargin"] = true,
            })
            .XAxis("offset from HeapLo (bytes)");
    }
}

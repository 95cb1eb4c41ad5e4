using Microsoft.FSharp.Core;
using Plotly.NET;

namespace Lessons.Plotting;

/// <summary>
/// Layout settings the lessons' charts share, as one call each on a Plotly.NET chart: a title, axis titles with
/// room for their tick labels (plotly's <c>automargin</c>), log axes, threshold lines. Plotly.NET.CSharp covers
/// traces and axis styles but not these in one place; each sets plotly.js layout keys
/// (https://plotly.com/javascript/reference/layout/) on the chart's <see cref="Layout"/>.
/// </summary>
public static class ChartLayout
{
    /// <summary>Titles the chart.</summary>
    public static GenericChart Titled(this GenericChart chart, string title) =>
        Set(chart, "title", new Dictionary<string, object> { ["text"] = title });

    /// <summary>Titles the x axis; <paramref name="log"/> makes it logarithmic.</summary>
    public static GenericChart XAxis(this GenericChart chart, string title, bool log = false) => Axis(chart, "xaxis", title, log);

    /// <summary>Titles the y axis; <paramref name="log"/> makes it logarithmic.</summary>
    public static GenericChart YAxis(this GenericChart chart, string title, bool log = false) => Axis(chart, "yaxis", title, log);

    /// <summary>Draws a dashed vertical line across the plot at <paramref name="x"/> (a threshold, say), with an optional label at its top.</summary>
    public static GenericChart VLine(this GenericChart chart, double x, string? label = null) => Rule(chart, "x", x, label);

    /// <summary>Draws a dashed horizontal line across the plot at <paramref name="y"/>, with an optional label at its right end.</summary>
    public static GenericChart HLine(this GenericChart chart, double y, string? label = null) => Rule(chart, "y", y, label);

    /// <summary>Sets one plotly.js layout key (<c>barmode</c>, say); dictionaries merge into what the key holds.</summary>
    public static GenericChart Set(this GenericChart chart, string key, object value)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var layout = GenericChart.getLayout(chart);
        if (value is Dictionary<string, object> add && layout.TryGetPropertyValue(key) is { } old
            && old.Value is Dictionary<string, object> held)
        {
            foreach (var (k, v) in add)
                held[k] = v;
            value = held;
        }
        layout.SetProperty(key, value);
        return GenericChart.setLayout(layout, chart);
    }

    /// <summary>Sets one plotly.js trace key on every trace of the chart (<c>base</c> of bars, say).</summary>
    public static GenericChart SetOnTraces(this GenericChart chart, string key, object value)
    {
        ArgumentNullException.ThrowIfNull(chart);
        return GenericChart.mapTrace(FuncConvert.FromFunc<Trace, Trace>(trace =>
        {
            trace.SetProperty(key, value);
            return trace;
        }), chart);
    }

    static GenericChart Axis(GenericChart chart, string key, string title, bool log)
    {
        var axis = new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = title }, ["automargin"] = true };
        if (log)
            axis["type"] = "log";
        return Set(chart, key, axis);
    }

    // A dashed line across the whole plot (the other axis in "paper" units, 0 to 1). The label is the shape's own,
    // placed in data coordinates: an annotation would need log10(x) on a log axis.
    static GenericChart Rule(GenericChart chart, string axis, double at, string? label)
    {
        var other = axis == "x" ? "y" : "x";
        var shape = new Dictionary<string, object>
        {
            ["type"] = "line",
            [axis + "ref"] = axis,
            [other + "ref"] = "paper",
            [axis + "0"] = at,
            [axis + "1"] = at,
            [other + "0"] = 0,
            [other + "1"] = 1,
            ["line"] = new Dictionary<string, object> { ["dash"] = "dash", ["width"] = 1 },
        };
        if (label is not null)
            shape["label"] = new Dictionary<string, object> { ["text"] = label, ["textposition"] = "end", ["textangle"] = 0 };
        var layout = GenericChart.getLayout(chart);
        var shapes = layout.TryGetPropertyValue("shapes") is { } held && held.Value is List<object> list ? list : [];
        shapes.Add(shape);
        return Set(chart, "shapes", shapes);
    }
}

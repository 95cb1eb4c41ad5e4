using System.Text.Json.Nodes;
using Lessons.Plotting;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using Chart = Plotly.NET.CSharp.Chart;

namespace Lessons.Tests.Plotting;

public class ChartsTests
{
    internal static JsonNode Json(GenericChart chart) => JsonNode.Parse(Charts.ToJson(chart))!;

    static GenericChart Sample() =>
        Chart.Line<int, int, string>(x: new[] { 1, 2 }, y: new[] { 3, 4 }, Name: "a").Titled("Sample").XAxis("n").YAxis("bytes", log: true);

    [Fact]
    public void The_library_registers_plotly_json_then_html_then_text_for_every_chart()
    {
        Charts.RegisterFormatters();
        Charts.RegisterFormatters(); // once is enough; twice changes nothing
        var preferred = Formatter.GetPreferredMimeTypesFor(typeof(GenericChart)).ToList();
        var chart = Sample();
        var formatted = preferred.ToDictionary(m => m, m => chart.ToDisplayString(m));

        Assert.Equal(["application/vnd.plotly.v1+json", "text/html", "text/plain"], preferred);
        var plotly = JsonNode.Parse(formatted[Charts.PlotlyMimeType])!;
        Assert.Equal("Sample", (string?)plotly["layout"]!["title"]!["text"]);
        Assert.Equal("scatter", (string?)plotly["data"]![0]!["type"]);
        Assert.StartsWith("<div id=\"plot-", formatted["text/html"]);
        Assert.Contains("Plotly.newPlot", formatted["text/html"]);
        Assert.Equal("Chart \"Sample\": 1 trace (line \"a\"); x: n; y: bytes (log)", formatted["text/plain"]);
    }

    [Fact]
    public void Charts_carry_a_small_white_template_not_plotly_nets_8_kb_default()
    {
        Charts.RegisterFormatters();
        var json = Charts.ToJson(Sample());

        Assert.True(json.Length < 2000, $"the chart's JSON is {json.Length} characters");
        Assert.Equal("white", (string?)JsonNode.Parse(json)!["layout"]!["template"]!["layout"]!["plot_bgcolor"]);
    }

    [Fact]
    public void Axis_titles_make_room_for_their_labels_and_log_axes_say_so()
    {
        var layout = Json(Sample())["layout"]!;

        Assert.Equal("n", (string?)layout["xaxis"]!["title"]!["text"]);
        Assert.True((bool)layout["xaxis"]!["automargin"]!);
        Assert.Null(layout["xaxis"]!["type"]);
        Assert.Equal("log", (string?)layout["yaxis"]!["type"]);
        Assert.True((bool)layout["yaxis"]!["automargin"]!);
    }

    [Fact]
    public void Layout_settings_merge_into_what_a_key_holds()
    {
        var chart = Sample().Set("xaxis", new Dictionary<string, object> { ["autorange"] = "reversed" });

        var axis = Json(chart)["layout"]!["xaxis"]!;
        Assert.Equal("reversed", (string?)axis["autorange"]);
        Assert.Equal("n", (string?)axis["title"]!["text"]);
    }

    [Fact]
    public void Rules_are_dashed_lines_across_the_plot_with_their_labels()
    {
        var shapes = Json(Sample().VLine(128, "threshold").HLine(3.5))["layout"]!["shapes"]!.AsArray();

        Assert.Equal(2, shapes.Count);
        Assert.Equal(128.0, (double)shapes[0]!["x0"]!);
        Assert.Equal("paper", (string?)shapes[0]!["yref"]);
        Assert.Equal("dash", (string?)shapes[0]!["line"]!["dash"]);
        Assert.Equal("threshold", (string?)shapes[0]!["label"]!["text"]);
        Assert.Equal(3.5, (double)shapes[1]!["y0"]!);
        Assert.Null(shapes[1]!["label"]);
    }

    [Fact]
    public void Trace_settings_reach_every_trace()
    {
        var chart = Chart.Combine([Sample(), Chart.Point<int, int, string>(x: new[] { 1 }, y: new[] { 2 })])
            .SetOnTraces("line", new Dictionary<string, object> { ["shape"] = "hv" });

        Assert.All(Json(chart)["data"]!.AsArray(), t => Assert.Equal("hv", (string?)t!["line"]!["shape"]));
        Assert.StartsWith("Chart \"Sample\": 2 traces (step \"a\", step)", Charts.Describe(chart));
    }

    [Fact]
    public void Html_cannot_be_closed_by_a_title()
    {
        var html = Charts.ToHtml(Sample().Titled("</script><b>x & y</b>"));

        Assert.Equal(1, html.Split("</script>").Length - 1);
        Assert.Contains("\\u003C/script\\u003E", html);
        Assert.Contains($"https://cdn.plot.ly/plotly-{Charts.PlotlyJsVersion}.min.js", html);
    }
}

using System.Text.Json;
using Lessons.Plotting;
using Plotly.NET;
using TestTools;
using Chart = Plotly.NET.CSharp.Chart;

namespace Lessons.Tests.Plotting;

/// <summary>Draws the lessons' Plotly.NET charts with the real plotly.js in headless Chromium (see scripts/setup-test-tools.sh).</summary>
public class ChartBrowserTests
{
    // Line, step and scatter on log-log axes (as lessons plot ns per operation), hover text, a labelled rule.
    internal static GenericChart Sample() => Chart.Combine([
            Chart.Line<int, int, string>(x: new[] { 1, 8, 24, 25, 40, 100, 1000 }, y: new[] { 24, 24, 24, 40, 40, 104, 1000 },
                Name: "usable", ShowMarkers: true),
            Chart.Line<int, int, string>(x: new[] { 1, 25, 41, 57, 1000 }, y: new[] { 32, 48, 64, 80, 1008 }, Name: "chunk",
                MultiText: new[] { "32 B", "48 B", "64 B", "80 B", "1008 B" })
                .SetOnTraces("line", new Dictionary<string, object> { ["shape"] = "hv" }),
            Chart.Point<double, double, string>(x: new[] { 10.0, 200, 600 }, y: new[] { 30.0, 220, 610 }, Name: "measured"),
        ])
        .Titled("Chunk size vs request")
        .VLine(128, "threshold")
        .XAxis("request (bytes)", log: true)
        .YAxis("size (bytes)", log: true);

    [Fact]
    public void Setup_script_pins_the_plotly_js_version_the_html_loads()
    {
        var script = File.ReadAllText(Path.Combine(PlotlyBrowser.RepoRoot, "scripts", "setup-test-tools.sh"));
        Assert.Contains($"\nPLOTLY_VERSION={Charts.PlotlyJsVersion}\n", script);
    }

    [RequiresTool(Tool.Browser)]
    public void Installed_plotly_js_is_the_pinned_version()
    {
        using var package = JsonDocument.Parse(File.ReadAllText(Path.Combine(PlotlyBrowser.PlotlyPackagePath, "package.json")));
        Assert.Equal(Charts.PlotlyJsVersion, package.RootElement.GetProperty("version").GetString());
    }

    [RequiresTool(Tool.Browser)]
    public void Html_output_draws_every_trace()
    {
        var page = PlotlyBrowser.RenderHtml(Charts.ToHtml(Sample()));

        Assert.Empty(page.Errors);
        Assert.True(page.Count("class=\"main-svg\"") >= 1, page.Dom);
        Assert.Equal(3, page.Count("class=\"trace scatter")); // line, step, scatter
        Assert.Equal(7 + 3, page.Count("<path class=\"point\"")); // markers: 7 on the line, 3 scattered
        Assert.Equal(1, page.Count("class=\"shape-group\"")); // the rule
        Assert.Contains("Chunk size vs request", page.Dom);
        Assert.Contains("threshold", page.Dom);
    }

    [RequiresTool(Tool.Browser)]
    public void Chart_json_draws_horizontal_bars_at_their_addresses()
    {
        var chart = Chart.Bar<ulong, string, string>(values: new ulong[] { 0x2000, 0x21000, 0x21000 }, Keys: new[] { "text", "heap", "stack" },
                MultiText: new[] { "/usr/bin/dotnet", "[heap]", "[stack]" })
            .SetOnTraces("base", new[] { 0x5555_5555_4000UL, 0x5555_5577_0000UL, 0x7ffd_1234_5000UL })
            .Titled("Address space").XAxis("address");

        var page = PlotlyBrowser.RenderFigureJson(Charts.ToJson(chart));

        Assert.Empty(page.Errors);
        Assert.True(page.Count("class=\"main-svg\"") >= 1, page.Dom);
        Assert.Equal(1, page.Count("class=\"trace bars\""));
        Assert.Equal(3, page.Count("<g class=\"point\"><path"));
        Assert.Contains("[stack]", page.Dom);
    }

    [RequiresTool(Tool.Browser)]
    public void Chart_json_draws_vertical_bars_per_category_and_trace()
    {
        var chart = Chart.Combine([
                Chart.Column<double, string, string>(values: new[] { 20.5, 900 }, Keys: new[] { "malloc", "mmap" }, Name: "alloc"),
                Chart.Column<double, string, string>(values: new[] { 15.0, 1200 }, Keys: new[] { "malloc", "mmap" }, Name: "free"),
            ])
            .Titled("Cost per call").YAxis("ns", log: true);

        var page = PlotlyBrowser.RenderFigureJson(Charts.ToJson(chart));

        Assert.Empty(page.Errors);
        Assert.Equal(2, page.Count("class=\"trace bars\""));
        Assert.Equal(4, page.Count("<g class=\"point\"><path"));
    }

    [RequiresTool(Tool.Browser)]
    public void Screenshot_of_the_sample_is_a_picture()
    {
        // Set LESSONS_SCREENSHOT_DIR to keep the PNG (and the DOM) and look at them.
        var keep = Environment.GetEnvironmentVariable("LESSONS_SCREENSHOT_DIR");
        var dir = keep ?? Directory.CreateTempSubdirectory("lessons-shot-").FullName;
        var png = Path.Combine(dir, "sample-figure.png");
        try
        {
            PlotlyBrowser.Screenshot(Charts.ToHtml(Sample()), png, width: 900, height: 520);

            var bytes = File.ReadAllBytes(png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            Assert.Equal(900, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16))); // IHDR width
            Assert.True(bytes.Length > 10_000, $"a {bytes.Length}-byte PNG is too small to hold a chart");
            if (keep is not null)
            {
                File.WriteAllText(Path.Combine(dir, "sample-figure.dom.html"), PlotlyBrowser.RenderHtml(Charts.ToHtml(Sample())).Dom);
            }
        }
        finally
        {
            if (keep is null)
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [RequiresTool(Tool.Browser)]
    public void Html_output_loads_plotly_once_when_the_page_lacks_it()
    {
        var body = Charts.ToHtml(Sample()) + Charts.ToHtml(Chart.Column<int, string, string>(values: new[] { 1 }, Keys: new[] { "a" }).Titled("second"));

        var page = PlotlyBrowser.RenderHtml(body, PlotlyOnPage.FromCdn);

        Assert.Empty(page.Errors);
        Assert.Contains("data-cdn-requests=\"1\"", page.Dom);
        Assert.Equal(3, page.Count("class=\"trace scatter"));
        Assert.Equal(1, page.Count("class=\"trace bars\""));
    }

    [RequiresTool(Tool.Browser)]
    public void Html_output_says_so_when_plotly_cannot_be_loaded()
    {
        var page = PlotlyBrowser.RenderHtml(Charts.ToHtml(Sample()), PlotlyOnPage.Unavailable);

        Assert.Equal(0, page.Count("class=\"main-svg\""));
        Assert.Contains($"This chart needs plotly.js from https://cdn.plot.ly/plotly-{Charts.PlotlyJsVersion}.min.js", page.Dom);
    }

    [RequiresTool(Tool.Browser)]
    public void Broken_figure_is_reported_not_drawn()
    {
        var page = PlotlyBrowser.RenderHtml("<script>Plotly.newPlot(null, [], {});</script>");

        Assert.NotEmpty(page.Errors);
        Assert.Equal(0, page.Count("class=\"main-svg\""));
    }
}

using System.Text.Json.Nodes;
using Lessons.Plotting;

namespace Lessons.Tests.Plotting;

public class FigureJsonTests
{
    // Asserts the figure's JSON equals the expected plotly.js figure, key for key (order aside).
    static void AssertJson(string expected, Figure figure)
    {
        var actual = JsonNode.Parse(figure.ToJson());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual),
            $"expected\n{JsonNode.Parse(expected)!.ToJsonString()}\nbut got\n{actual!.ToJsonString()}");
    }

    [Fact]
    public void Empty_figure_has_data_and_layout()
    {
        Assert.Equal("""{"data":[],"layout":{}}""", new Figure().ToJson());
    }

    [Fact]
    public void Line_with_title_axis_titles_and_log_axis()
    {
        var figure = new Figure("Chunk size vs request")
            .Line(new[] { 1, 24, 25 }, new[] { 24.0, 24.0, 40.0 }, name: "usable")
            .XAxis("request (bytes)")
            .YAxis("usable size (bytes)", log: true);

        AssertJson("""
            {"data":[{"type":"scatter","mode":"lines","name":"usable","x":[1,24,25],"y":[24,24,40]}],
             "layout":{"title":{"text":"Chunk size vs request"},
                       "xaxis":{"title":{"text":"request (bytes)"}},
                       "yaxis":{"title":{"text":"usable size (bytes)"},"type":"log"}}}
            """, figure);
    }

    [Fact]
    public void Log_log_axes_and_line_with_markers()
    {
        var figure = new Figure()
            .Line(new[] { 16, 4096 }, new[] { 20.5, 900.25 }, markers: true)
            .XAxis("size", log: true)
            .YAxis("ns per operation", log: true);

        AssertJson("""
            {"data":[{"type":"scatter","mode":"lines+markers","x":[16,4096],"y":[20.5,900.25]}],
             "layout":{"xaxis":{"title":{"text":"size"},"type":"log"},
                       "yaxis":{"title":{"text":"ns per operation"},"type":"log"}}}
            """, figure);
    }

    [Fact]
    public void Scatter_with_hover_text()
    {
        var figure = new Figure().Scatter(new[] { 1.5, 2.5 }, new[] { 3, 4 }, name: "samples", text: ["a", "b"]);

        AssertJson("""
            {"data":[{"type":"scatter","mode":"markers","name":"samples","x":[1.5,2.5],"y":[3,4],
                      "text":["a","b"],"hoverinfo":"x+y+text+name"}],
             "layout":{}}
            """, figure);
    }

    [Fact]
    public void Step_is_a_line_with_hv_shape()
    {
        var figure = new Figure().Step(new[] { 0, 24, 40 }, new[] { 32, 48, 64 }, name: "chunk", text: ["x", "y", "z"]);

        AssertJson("""
            {"data":[{"type":"scatter","mode":"lines","name":"chunk","x":[0,24,40],"y":[32,48,64],
                      "text":["x","y","z"],"hoverinfo":"x+y+text+name","line":{"shape":"hv"}}],
             "layout":{}}
            """, figure);
    }

    [Fact]
    public void Bar_with_categories_text_and_start()
    {
        var figure = new Figure().Bar(new[] { "heap", "mmap" }, new[] { 10, 20 }, text: ["h", "m"], start: [1, 2]);

        AssertJson("""
            {"data":[{"type":"bar","x":["heap","mmap"],"y":[10,20],"text":["h","m"],"hoverinfo":"x+y+text","base":[1,2]}],
             "layout":{}}
            """, figure);
    }

    [Fact]
    public void Horizontal_bars_with_exact_address_bases()
    {
        // Addresses near the top of the 47-bit user address space stay exact (below 2^53, so exact in JS too).
        const ulong stack = 0x7ffd_1234_5000;
        var figure = new Figure("Address space")
            .HorizontalBar(new[] { "text", "stack" }, new ulong[] { 0x2000, 0x21000 },
                name: "regions", text: ["/usr/bin/dotnet", "[stack]"], start: [0x5555_5555_4000UL, stack]);

        var json = figure.ToJson();
        Assert.Contains($"\"base\":[{0x5555_5555_4000UL},{stack}]", json);
        AssertJson("""
            {"data":[{"type":"bar","name":"regions","x":[8192,135168],"y":["text","stack"],
                      "text":["/usr/bin/dotnet","[stack]"],"hoverinfo":"x+y+text+name",
                      "orientation":"h","base":[93824992231424,140724908871680]}],
             "layout":{"title":{"text":"Address space"}}}
            """, figure);
    }

    [Fact]
    public void Numbers_of_every_kind_serialize_as_numbers_and_non_finite_as_gaps()
    {
        var figure = new Figure().Line(new object[] { (byte)1, (short)2, 3L, ulong.MaxValue, (nint)5, 6.5m },
            new[] { 1.0, double.NaN, double.PositiveInfinity, 0.25, -1, 1e300 });

        Assert.Contains("\"x\":[1,2,3,18446744073709551615,5,6.5]", figure.ToJson());
        Assert.Contains("\"y\":[1,null,null,0.25,-1,1E+300]", figure.ToJson());
    }

    [Fact]
    public void Vertical_and_horizontal_rules_are_shapes_with_labels()
    {
        var figure = new Figure().VLine(131072, "mmap threshold").HLine(0.5);

        AssertJson("""
            {"data":[],"layout":{"shapes":[
              {"type":"line","xref":"x","yref":"paper","x0":131072,"x1":131072,"y0":0,"y1":1,"line":{"dash":"dash","width":1},
               "label":{"text":"mmap threshold","textposition":"end","textangle":0}},
              {"type":"line","yref":"y","xref":"paper","y0":0.5,"y1":0.5,"x0":0,"x1":1,"line":{"dash":"dash","width":1}}]}}
            """, figure);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new Figure().Line(new[] { 1, 2 }, new[] { 1 }));
        Assert.Throws<ArgumentException>(() => new Figure().Scatter(new[] { 1 }, new[] { 1 }, text: ["a", "b"]));
        Assert.Throws<ArgumentException>(() => new Figure().HorizontalBar(new[] { "a" }, new[] { 1 }, start: [1, 2]));
    }

    [Fact]
    public void Raw_layout_can_be_changed_for_anything_the_builders_lack()
    {
        var figure = new Figure().Bar(new[] { 1 }, new[] { 2 });
        figure.Layout["height"] = 300;
        Assert.Equal("""{"data":[{"type":"bar","x":[1],"y":[2]}],"layout":{"height":300}}""", figure.ToJson());
    }

    [Fact]
    public void ToString_summarizes_title_traces_and_axes()
    {
        var figure = new Figure("Sizes")
            .Line(new[] { 1 }, new[] { 2 }, name: "usable")
            .Step(new[] { 1 }, new[] { 2 })
            .Scatter(new[] { 1 }, new[] { 2 })
            .Bar(new[] { 1 }, new[] { 2 })
            .HorizontalBar(new[] { "a" }, new[] { 2 }, name: "map")
            .XAxis("request")
            .YAxis("bytes", log: true);

        Assert.Equal(
            "Figure \"Sizes\": 5 traces (line \"usable\", step, scatter, bar, horizontal bar \"map\"); x: request; y: bytes (log)",
            figure.ToString());
        Assert.Equal("Figure: 0 traces", new Figure().ToString());
    }

    [Fact]
    public void Html_draws_into_a_unique_div_and_loads_the_pinned_plotly_only_when_missing()
    {
        var figure = new Figure("</script><b>not markup</b>").Line(new[] { 1 }, new[] { 2 });
        var html = figure.ToHtml();

        var id = System.Text.RegularExpressions.Regex.Match(html, "<div id=\"(plot-[0-9a-f]{32})\"></div>").Groups[1].Value;
        Assert.NotEmpty(id);
        Assert.Contains($"document.getElementById(\"{id}\")", html);
        Assert.Contains("typeof window.Plotly !== \"undefined\"", html);
        Assert.Contains($"https://cdn.plot.ly/plotly-{Figure.PlotlyJsVersion}.min.js", html);
        Assert.Contains("Plotly.newPlot(div, figure.data, figure.layout", html);
        Assert.Contains(figure.ToJson(), html);
        // The title cannot end the script element early: the JSON escapes '<'.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "</script>"));
        Assert.DoesNotContain(id, figure.ToHtml());
    }
}

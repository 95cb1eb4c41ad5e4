using System.Text.Json;
using Lessons.Plotting;
using Microsoft.DotNet.Interactive.Formatting;

namespace Lessons.Tests.Plotting;

public class FigureFormatterTests
{
    static readonly Figure Sample = new Figure("Sample").Line(new[] { 1, 2 }, new[] { 3, 4 }, name: "a");

    [Fact]
    public void Figure_carries_an_attribute_named_TypeFormatterSourceAttribute_and_no_kernel_reference()
    {
        var attribute = Assert.Single(typeof(Figure).GetCustomAttributes(true),
            a => a.GetType().Name == "TypeFormatterSourceAttribute");
        Assert.NotEqual("Microsoft.DotNet.Interactive.Formatting", attribute.GetType().Namespace);
        Assert.DoesNotContain(typeof(Figure).Assembly.GetReferencedAssemblies(),
            a => a.Name!.StartsWith("Microsoft.DotNet.Interactive", StringComparison.Ordinal));
    }

    [Fact]
    public void Kernel_formatter_yields_plotly_json_then_html_then_text()
    {
        // .NET Interactive's Formatter finds the formatter source by the attribute's name, as the kernel does.
        var preferred = Formatter.GetPreferredMimeTypesFor(typeof(Figure)).ToList();
        var formatted = preferred.ToDictionary(m => m, m => Sample.ToDisplayString(m));

        Assert.Equal(["application/vnd.plotly.v1+json", "text/html", "text/plain"], preferred);

        using var plotly = JsonDocument.Parse(formatted["application/vnd.plotly.v1+json"]);
        Assert.Equal(Sample.ToJson(), formatted["application/vnd.plotly.v1+json"]);
        Assert.Equal(JsonValueKind.Array, plotly.RootElement.GetProperty("data").ValueKind);
        Assert.Equal("Sample", plotly.RootElement.GetProperty("layout").GetProperty("title").GetProperty("text").GetString());

        Assert.StartsWith("<div id=\"plot-", formatted["text/html"]);
        Assert.Contains("Plotly.newPlot", formatted["text/html"]);
        Assert.Equal(Sample.ToString(), formatted["text/plain"]);
    }

    [Fact]
    public void Formatters_decline_values_that_are_not_figures()
    {
        var attribute = typeof(Figure).GetCustomAttributes(true).Single(a => a.GetType().Name == "TypeFormatterSourceAttribute");
        var source = (Type)attribute.GetType().GetProperty("FormatterSourceType")!.GetValue(attribute)!;
        var formatters = (IEnumerable<object>)source.GetMethod("CreateTypeFormatters")!
            .Invoke(Activator.CreateInstance(source), null)!;

        foreach (var formatter in formatters)
        {
            var declined = (bool)formatter.GetType().GetMethod("Format")!
                .Invoke(formatter, ["not a figure", TextWriter.Null])!;
            Assert.False(declined);
        }
    }
}

using System.Text.Json;
using Lessons.Plotting;

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
    public void Kernel_convention_yields_plotly_json_then_html_then_text()
    {
        var result = ConventionFormatter.Format(Sample);

        Assert.Equal(["application/vnd.plotly.v1+json", "text/html", "text/plain"], result.PreferredMimeTypes);
        Assert.All(result.PreferredMimeTypes, m => Assert.Contains(m, result.Formatted.Keys));

        using var plotly = JsonDocument.Parse(result.Formatted["application/vnd.plotly.v1+json"]);
        Assert.Equal(Sample.ToJson(), result.Formatted["application/vnd.plotly.v1+json"]);
        Assert.Equal(JsonValueKind.Array, plotly.RootElement.GetProperty("data").ValueKind);
        Assert.Equal("Sample", plotly.RootElement.GetProperty("layout").GetProperty("title").GetProperty("text").GetString());

        Assert.StartsWith("<div id=\"plot-", result.Formatted["text/html"]);
        Assert.Contains("Plotly.newPlot", result.Formatted["text/html"]);
        Assert.Equal(Sample.ToString(), result.Formatted["text/plain"]);
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

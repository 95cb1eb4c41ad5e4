namespace Workbook.Tests;

// The .NET Interactive formatter convention, declared here as a library would, without a reference to the kernel.

[AttributeUsage(AttributeTargets.Class)]
sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    public Type FormatterSourceType { get; } = formatterSourceType;

    public string[]? PreferredMimeTypes { get; set; }
}

/// <summary>Displays as HTML and as a JSON object; its markdown formatter is not among the preferred mime types.</summary>
[TypeFormatterSource(typeof(GaugeFormatterSource), PreferredMimeTypes = ["text/html", GaugeFormatterSource.JsonMimeType])]
public sealed record Gauge(double Level);

/// <summary>Displays as HTML and as JSON; its JSON is broken on purpose.</summary>
[TypeFormatterSource(typeof(BrokenFormatterSource), PreferredMimeTypes = ["text/html", "application/json"])]
public sealed record BrokenJson;

sealed class GaugeFormatterSource
{
    public const string JsonMimeType = "application/vnd.gauge.v1+json";

    public IEnumerable<object> CreateTypeFormatters()
    {
        yield return new Formatter<Gauge>("text/html", g => $"<meter value=\"{g.Level}\"></meter>");
        yield return new Formatter<Gauge>(JsonMimeType, g => $$"""{"level": {{g.Level}}}""");
        yield return new Formatter<Gauge>("text/markdown", g => $"**{g.Level}**");
    }
}

sealed class BrokenFormatterSource
{
    public IEnumerable<object> CreateTypeFormatters()
    {
        yield return new Formatter<BrokenJson>("text/html", _ => "<b>broken</b>");
        yield return new Formatter<BrokenJson>("application/json", _ => "{not json");
    }
}

sealed class Formatter<T>(string mimeType, Func<T, string> render)
{
    public string MimeType => mimeType;

    public bool Format(object instance, TextWriter writer)
    {
        if (instance is not T value)
            return false;
        writer.Write(render(value));
        return true;
    }
}

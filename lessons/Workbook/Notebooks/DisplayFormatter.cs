using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Formatting;

namespace Workbook.Notebooks;

/// <summary>
/// Turns a value, or the formatted values of a kernel event, into a Jupyter mime bundle (the "data" of display_data
/// and execute_result). The formatting is .NET Interactive's own (Microsoft.DotNet.Interactive.Formatting): the mime
/// types the Formatter prefers for the value's type (text/html for most values, text/plain for strings, a type's
/// TypeFormatterSourceAttribute's PreferredMimeTypes), each written by the Formatter, as the C# kernel does for
/// display(...) and a cell's value. Only the nbformat encoding is done here.
/// </summary>
public static class DisplayFormatter
{
    public const string PlainText = PlainTextFormatter.MimeType;
    public const string Html = HtmlFormatter.MimeType;

    /// <summary>The bundle the kernel shows for <paramref name="value"/>.</summary>
    public static JsonObject Format(object? value) => Bundle(FormattedValue.CreateManyFromObject(value!), value?.GetType());

    /// <summary>The bundle of formatted values (those of a kernel event); the first of a mime type wins.</summary>
    public static JsonObject Bundle(IEnumerable<FormattedValue> values, Type? formattedType = null)
    {
        var bundle = new JsonObject();
        foreach (var value in values.Where(v => !v.SuppressDisplay))
        {
            if (!bundle.ContainsKey(value.MimeType))
                bundle[value.MimeType] = MimeValue(value.MimeType, value.Value, formattedType);
        }
        return bundle;
    }

    /// <summary>JSON mime types must be JSON objects in nbformat, not strings; the rest stays text.</summary>
    static JsonNode MimeValue(string mimeType, string text, Type? formattedType)
    {
        if (!(mimeType.StartsWith("application/", StringComparison.Ordinal) && mimeType.EndsWith("json", StringComparison.Ordinal)))
            return text;
        try
        {
            return JsonNode.Parse(text) as JsonObject
                   ?? throw new FormatException("the output is not a JSON object");
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            var of = formattedType is null ? "" : $" of {formattedType}";
            throw new FormatException(
                $"the {mimeType} formatter{of} did not write a JSON object ({e.Message}); nbformat requires one for JSON mime types", e);
        }
    }
}

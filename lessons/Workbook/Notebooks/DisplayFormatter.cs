using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Notebooks;

/// <summary>
/// Turns a value into a Jupyter mime bundle (the "data" of display_data and execute_result).
/// Always has text/plain. Types that opt into .NET Interactive's convention-based formatting get one more
/// entry per formatter, without a reference to Microsoft.DotNet.Interactive. The convention, as in
/// dotnet/interactive's Formatter.TryRegisterFromConventionBasedFormatterSources: the type (or a base type)
/// carries an attribute named TypeFormatterSourceAttribute (any namespace) whose FormatterSourceType property
/// names a class with a parameterless constructor; its CreateTypeFormatters() returns objects with a string
/// MimeType property, a bool Format(object instance, TextWriter writer) method and optionally a Type property
/// restricting the values they format. The attribute's optional string[] PreferredMimeTypes restricts the
/// bundle to those mime types (plus text/plain), as the kernel then displays only those.
/// </summary>
public static class DisplayFormatter
{
    public const string PlainText = "text/plain";
    public const int MaxItems = 20;

    sealed record ConventionFormatter(string MimeType, Type? FormattedType, Func<object, TextWriter, bool> Format);

    static readonly ConcurrentDictionary<Type, IReadOnlyList<ConventionFormatter>> FormattersByType = new();

    public static JsonObject Format(object? value)
    {
        var bundle = new JsonObject();
        if (value is not null)
        {
            foreach (var formatter in FormattersFor(value.GetType()))
            {
                if (bundle.ContainsKey(formatter.MimeType)
                    || (formatter.FormattedType is { } type && !type.IsInstanceOfType(value)))
                    continue;
                var writer = new StringWriter();
                if (formatter.Format(value, writer))
                    bundle[formatter.MimeType] = MimeValue(formatter.MimeType, writer.ToString(), value);
            }
        }
        if (!bundle.ContainsKey(PlainText))
            bundle[PlainText] = PlainTextOf(value);
        return bundle;
    }

    /// <summary>Strings as they are, sequences one item per line (capped), everything else by ToString().</summary>
    public static string PlainTextOf(object? value) => value switch
    {
        null => "<null>",
        string text => text,
        IEnumerable sequence => ItemsOf(sequence),
        _ => value.ToString() ?? "",
    };

    static string ItemsOf(IEnumerable sequence)
    {
        var lines = new List<string>();
        var enumerator = sequence.GetEnumerator();
        try
        {
            while (lines.Count < MaxItems && enumerator.MoveNext())
                lines.Add(enumerator.Current?.ToString() ?? "<null>");
            if (sequence is ICollection collection && collection.Count > MaxItems)
                lines.Add($"… ({collection.Count - MaxItems} more)");
            else if (enumerator.MoveNext())
            {
                // Count what is left, up to a bound: a sequence may be endless.
                var more = 1;
                while (more <= 10_000 && enumerator.MoveNext())
                    more++;
                lines.Add(more > 10_000 ? "… (more than 10000 more)" : $"… ({more} more)");
            }
        }
        finally
        {
            (enumerator as IDisposable)?.Dispose();
        }
        return string.Join("\n", lines);
    }

    /// <summary>JSON mime types must be JSON objects in nbformat, not strings; the rest stays text.</summary>
    static JsonNode MimeValue(string mimeType, string text, object value)
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
            throw new FormatException(
                $"the {mimeType} formatter of {value.GetType()} did not write a JSON object ({e.Message}); nbformat requires one for JSON mime types", e);
        }
    }

    static IReadOnlyList<ConventionFormatter> FormattersFor(Type type) =>
        FormattersByType.GetOrAdd(type, static type =>
        {
            var formatters = new List<ConventionFormatter>();
            var preferred = new List<string>();
            foreach (var attribute in type.GetCustomAttributes(inherit: true)
                         .Where(a => a.GetType().Name == "TypeFormatterSourceAttribute"))
            {
                if (Property(attribute, "FormatterSourceType") is not Type sourceType)
                    continue;
                var source = Activator.CreateInstance(sourceType)
                             ?? throw new InvalidOperationException($"cannot create the formatter source {sourceType}");
                var createFormatters = sourceType.GetMethod("CreateTypeFormatters", Type.EmptyTypes)
                                       ?? throw new InvalidOperationException(
                                           $"the formatter source {sourceType} (named by a TypeFormatterSourceAttribute on {type}) has no public CreateTypeFormatters() method");
                if (createFormatters.Invoke(source, null) is IEnumerable created)
                    formatters.AddRange(created.Cast<object>().Select(ToFormatter).OfType<ConventionFormatter>());
                if (Property(attribute, "PreferredMimeTypes") is string[] mimeTypes)
                    preferred.AddRange(mimeTypes);
            }
            return preferred.Count == 0 ? formatters : formatters.Where(f => preferred.Contains(f.MimeType)).ToList();
        });

    static ConventionFormatter? ToFormatter(object formatter)
    {
        var type = formatter.GetType();
        if (Property(formatter, "MimeType") is not string mimeType
            || type.GetMethod("Format", [typeof(object), typeof(TextWriter)]) is not { } format
            || format.ReturnType != typeof(bool))
            return null;
        return new ConventionFormatter(
            mimeType,
            Property(formatter, "Type") as Type,
            (value, writer) => (bool)format.Invoke(formatter, BindingFlags.DoNotWrapExceptions, null, [value, writer], null)!);
    }

    static object? Property(object target, string name) =>
        target.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance)?.GetValue(target);
}

using System.Collections;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;

namespace Lessons.Tests.Plotting;

/// <summary>
/// Formats a value the way dotnet/interactive's convention-based formatter sources do
/// (Formatter.TryRegisterFromFormatterSources, src/Microsoft.DotNet.Interactive.Formatting/Formatter.cs):
/// attributes matched by the name TypeFormatterSourceAttribute, FormatterSourceType created with
/// Activator.CreateInstance, CreateTypeFormatters() enumerated, each formatter's MimeType read and its
/// Format(object, TextWriter) → bool compiled into a call, and the attribute's PreferredMimeTypes.
/// </summary>
static class ConventionFormatter
{
    public sealed record Result(IReadOnlyList<string> PreferredMimeTypes, IReadOnlyDictionary<string, string> Formatted);

    public static Result Format(object value)
    {
        var type = value.GetType();
        var preferred = new List<string>();
        var formatted = new Dictionary<string, string>();
        var attributes = type.GetCustomAttributes(true).Where(a => a.GetType().Name == "TypeFormatterSourceAttribute");
        foreach (var attribute in attributes)
        {
            if (Property<Type>(attribute, "FormatterSourceType") is not { } sourceType)
            {
                continue;
            }

            var source = Activator.CreateInstance(sourceType)!;
            if (source.GetType().GetMethod("CreateTypeFormatters")!.Invoke(source, null) is not IEnumerable formatters)
            {
                continue;
            }

            foreach (var formatter in formatters)
            {
                if (Property<string>(formatter, "MimeType") is not { } mimeType)
                {
                    continue;
                }

                // As the kernel does: an expression call with (object, TextWriter) arguments returning bool,
                // so a Format method of any other shape fails here as it would there.
                var method = formatter.GetType().GetMethod("Format")!;
                var instance = Expression.Parameter(typeof(object));
                var writer = Expression.Parameter(typeof(TextWriter));
                var call = Expression.Lambda<Func<object, TextWriter, bool>>(
                    Expression.Call(Expression.Constant(formatter), method, instance, writer), instance, writer).Compile();

                var formattedType = Property<Type>(formatter, "Type") ?? type;
                Assert.True(formattedType.IsAssignableFrom(type), $"formatter for {mimeType} formats {formattedType}");
                using var text = new StringWriter(CultureInfo.InvariantCulture);
                Assert.True(call(value, text), $"formatter for {mimeType} declined the value");
                formatted[mimeType] = text.ToString();
            }

            preferred.AddRange(Property<string[]>(attribute, "PreferredMimeTypes") ?? []);
        }

        return new Result(preferred, formatted);
    }

    static T? Property<T>(object from, string name) where T : class =>
        from.GetType().GetProperty(name)?.GetGetMethod()?.Invoke(from, null) as T;
}

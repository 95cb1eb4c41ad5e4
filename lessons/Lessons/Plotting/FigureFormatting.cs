namespace Lessons.Plotting;

// How a Figure shows in the .NET Interactive kernel without a reference to it: dotnet/interactive's
// convention-based formatter sources (Formatter.TryRegisterFromFormatterSources in
// src/Microsoft.DotNet.Interactive.Formatting/Formatter.cs). For each attribute on the value's type whose
// class is *named* TypeFormatterSourceAttribute, the kernel:
//   1. reads its public property FormatterSourceType (a Type) and creates it with Activator.CreateInstance;
//   2. calls its public method CreateTypeFormatters() and enumerates the result;
//   3. for each formatter with a public string property MimeType, compiles a call to its public method
//      bool Format(object instance, TextWriter writer), and takes the formatted type from an optional
//      public property Type (default: the attributed type);
//   4. reads the attribute's string[] PreferredMimeTypes, the MIME types a displayed value is formatted as.
// The workbook's notebook runner runs the same kernel in process, so it formats a Figure by this convention too.

/// <summary>Names a type's formatter source; matched by name by .NET Interactive's Formatter.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = true, Inherited = true)]
sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    /// <summary>A type with a public parameterless constructor and a public <c>CreateTypeFormatters()</c>.</summary>
    public Type FormatterSourceType { get; } = formatterSourceType;

    /// <summary>The MIME types to format a displayed value as, most preferred first.</summary>
    public string[]? PreferredMimeTypes { get; set; }
}

/// <summary>The formatters of <see cref="Figure"/>: plotly JSON, HTML with a script, and plain text.</summary>
sealed class FigureFormatterSource
{
    public IEnumerable<object> CreateTypeFormatters() =>
    [
        new FigureFormatter(Figure.PlotlyMimeType),
        new FigureFormatter(Figure.HtmlMimeType),
        new FigureFormatter(Figure.PlainTextMimeType),
    ];
}

/// <summary>Writes a <see cref="Figure"/> as one MIME type.</summary>
sealed class FigureFormatter(string mimeType)
{
    public string MimeType { get; } = mimeType;

    public Type Type => typeof(Figure);

    /// <summary>Writes <paramref name="instance"/> if it is a <see cref="Figure"/>; returns whether it did.</summary>
    public bool Format(object instance, TextWriter writer)
    {
        if (instance is not Figure figure)
        {
            return false;
        }

        writer.Write(MimeType switch
        {
            Figure.PlotlyMimeType => figure.ToJson(),
            Figure.HtmlMimeType => figure.ToHtml(),
            _ => figure.ToString(),
        });
        return true;
    }
}

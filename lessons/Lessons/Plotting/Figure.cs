using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lessons.Plotting;

/// <summary>
/// A chart, held as a plotly.js figure: <see cref="Data"/> (the traces) and <see cref="Layout"/>.
/// Build it fluently, then return it from a notebook cell or <c>display</c> it:
/// <code>
/// new Figure("Chunk size vs request")
///     .Line(requests, usable, name: "usable")
///     .XAxis("request (bytes)")
///     .YAxis("usable size (bytes)", log: true)
/// </code>
/// Values may be any numbers (a <see cref="ulong"/> address stays exact in the JSON), strings
/// (categories) or dates; NaN and infinities become gaps (JSON <c>null</c>).
/// </summary>
[TypeFormatterSource(typeof(FigureFormatterSource),
    PreferredMimeTypes = [PlotlyMimeType, HtmlMimeType, PlainTextMimeType])]
public sealed class Figure
{
    /// <summary>The MIME type of a plotly.js figure, rendered by Jupyter and VS Code notebooks.</summary>
    public const string PlotlyMimeType = "application/vnd.plotly.v1+json";

    /// <summary>The plotly.js version the HTML output loads (when the page has no <c>window.Plotly</c>) and the tests render with.</summary>
    public const string PlotlyJsVersion = "4.1.2";

    internal const string HtmlMimeType = "text/html";
    internal const string PlainTextMimeType = "text/plain";
    internal const string PlotlyCdnUrl = "https://cdn.plot.ly/plotly-" + PlotlyJsVersion + ".min.js";

    /// <summary>Creates an empty figure, optionally with a title.</summary>
    public Figure(string? title = null)
    {
        if (title is not null)
        {
            Layout["title"] = new JsonObject { ["text"] = title };
        }
    }

    /// <summary>
    /// The traces, as plotly.js JSON objects. The builders append to it; change it directly for
    /// anything they do not cover (see the plotly.js reference, https://plotly.com/javascript/reference/).
    /// </summary>
    public JsonArray Data { get; } = new();

    /// <summary>The layout (title, axes, shapes, annotations …) as a plotly.js JSON object.</summary>
    public JsonObject Layout { get; } = new();

    /// <summary>Adds a line through the points (x[i], y[i]); <paramref name="markers"/> also marks each point.</summary>
    /// <param name="x">The x values.</param>
    /// <param name="y">The y values, as many as <paramref name="x"/>.</param>
    /// <param name="name">The trace's name in the legend and hover box.</param>
    /// <param name="text">Hover text, one per point.</param>
    /// <param name="markers">Draw a marker at each point as well.</param>
    public Figure Line<TX, TY>(IEnumerable<TX> x, IEnumerable<TY> y, string? name = null,
        IEnumerable<string>? text = null, bool markers = false) =>
        Add(XY("scatter", x, y, name, text), markers ? "lines+markers" : "lines");

    /// <summary>Adds unconnected markers at the points (x[i], y[i]).</summary>
    /// <inheritdoc cref="Line" path="/param[@name='x' or @name='y' or @name='name' or @name='text']"/>
    public Figure Scatter<TX, TY>(IEnumerable<TX> x, IEnumerable<TY> y, string? name = null,
        IEnumerable<string>? text = null) =>
        Add(XY("scatter", x, y, name, text), "markers");

    /// <summary>
    /// Adds a step line: y[i] holds from x[i] until x[i + 1] (horizontal, then vertical; plotly's
    /// <c>line.shape: "hv"</c>). Right for sizes that jump at thresholds, such as rounded allocation sizes.
    /// </summary>
    /// <inheritdoc cref="Line" path="/param[@name='x' or @name='y' or @name='name' or @name='text']"/>
    public Figure Step<TX, TY>(IEnumerable<TX> x, IEnumerable<TY> y, string? name = null,
        IEnumerable<string>? text = null)
    {
        var trace = XY("scatter", x, y, name, text);
        trace["line"] = new JsonObject { ["shape"] = "hv" };
        return Add(trace, "lines");
    }

    /// <summary>Adds vertical bars: one at each x, of height y (starting at <paramref name="start"/> if given, else 0).</summary>
    /// <param name="x">The x value (or category) of each bar.</param>
    /// <param name="y">The bar heights, as many as <paramref name="x"/>.</param>
    /// <param name="name">The trace's name in the legend and hover box.</param>
    /// <param name="text">Text per bar, shown on the bar and in the hover box.</param>
    /// <param name="start">Where each bar starts (plotly's <c>base</c>).</param>
    public Figure Bar<TX, TY>(IEnumerable<TX> x, IEnumerable<TY> y, string? name = null,
        IEnumerable<string>? text = null, IEnumerable<TY>? start = null)
    {
        var trace = XY("bar", x, y, name, text);
        return Add(WithBase(trace, start, trace["x"]!.AsArray().Count));
    }

    /// <summary>
    /// Adds horizontal bars (plotly's <c>orientation: "h"</c>): on row <paramref name="categories"/>[i], a bar
    /// from <paramref name="start"/>[i] (or 0) of length <paramref name="lengths"/>[i]. With addresses as
    /// starts and region sizes as lengths, this draws an address-space map.
    /// </summary>
    /// <param name="categories">The row of each bar (y).</param>
    /// <param name="lengths">The length of each bar (x), as many as <paramref name="categories"/>.</param>
    /// <param name="name">The trace's name in the legend and hover box.</param>
    /// <param name="text">Text per bar, shown on the bar and in the hover box.</param>
    /// <param name="start">Where each bar starts on the x axis (plotly's <c>base</c>).</param>
    public Figure HorizontalBar<TCategory, TLength>(IEnumerable<TCategory> categories, IEnumerable<TLength> lengths,
        string? name = null, IEnumerable<string>? text = null, IEnumerable<TLength>? start = null)
    {
        var trace = XY("bar", lengths, categories, name, text);
        trace["orientation"] = "h";
        return Add(WithBase(trace, start, trace["x"]!.AsArray().Count));
    }

    /// <summary>Titles the x axis; <paramref name="log"/> makes it logarithmic.</summary>
    public Figure XAxis(string title, bool log = false) => Axis("xaxis", title, log);

    /// <summary>Titles the y axis; <paramref name="log"/> makes it logarithmic.</summary>
    public Figure YAxis(string title, bool log = false) => Axis("yaxis", title, log);

    /// <summary>Draws a dashed vertical line across the plot at <paramref name="x"/> (a threshold, say), with an optional label at its top.</summary>
    public Figure VLine<T>(T x, string? label = null) => Rule("x", Value(x), label);

    /// <summary>Draws a dashed horizontal line across the plot at <paramref name="y"/>, with an optional label at its right end.</summary>
    public Figure HLine<T>(T y, string? label = null) => Rule("y", Value(y), label);

    /// <summary>The figure as plotly.js JSON: <c>{"data":[…],"layout":{…}}</c>.</summary>
    public string ToJson(bool indented = false) =>
        new JsonObject { ["data"] = Data.DeepClone(), ["layout"] = Layout.DeepClone() }
            .ToJsonString(indented ? Indented : Compact);

    static readonly JsonSerializerOptions Compact = new();
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// An HTML fragment that draws the figure: a <c>div</c> with a unique id and a script calling
    /// <c>Plotly.newPlot</c>, which first loads plotly.js from its CDN if the page has no <c>window.Plotly</c>.
    /// </summary>
    public string ToHtml()
    {
        var id = "plot-" + Guid.NewGuid().ToString("N");
        // The JSON writer escapes <, > and &, so no value can close the script element.
        return $$"""
            <div id="{{id}}"></div>
            <script type="text/javascript">
            (function () {
              var figure = {{ToJson()}};
              var div = document.getElementById("{{id}}");
              function draw() { window.Plotly.newPlot(div, figure.data, figure.layout, { responsive: true }); }
              if (typeof window.Plotly !== "undefined") { draw(); return; }
              window.lessonsPlotlyLoading = window.lessonsPlotlyLoading || new Promise(function (resolve, reject) {
                var script = document.createElement("script");
                script.src = "{{PlotlyCdnUrl}}";
                script.onload = resolve;
                script.onerror = reject;
                document.head.appendChild(script);
              });
              window.lessonsPlotlyLoading.then(draw, function () {
                div.textContent = "This chart needs plotly.js from {{PlotlyCdnUrl}}, which could not be loaded.";
              });
            })();
            </script>
            """;
    }

    /// <summary>A one-line summary for plain-text viewers, e.g. <c>Figure "Sizes": 2 traces (line "usable", bar); x: request; y: bytes (log)</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder("Figure");
        if (Layout["title"]?["text"] is JsonValue title)
        {
            text.Append(" \"").Append(title.ToString()).Append('"');
        }

        text.Append(": ").Append(Data.Count).Append(Data.Count == 1 ? " trace" : " traces");
        if (Data.Count > 0)
        {
            text.Append(" (").AppendJoin(", ", Data.Select(Describe)).Append(')');
        }

        foreach (var axis in new[] { "x", "y" })
        {
            if (Layout[axis + "axis"] is JsonObject a)
            {
                text.Append("; ").Append(axis).Append(": ").Append(a["title"]?["text"]?.ToString() ?? "");
                if (a["type"]?.ToString() == "log")
                {
                    text.Append(" (log)");
                }
            }
        }

        return text.ToString();
    }

    static string Describe(JsonNode? trace)
    {
        var type = trace?["type"]?.ToString() ?? "trace";
        var kind = type switch
        {
            "scatter" when trace?["line"]?["shape"]?.ToString() == "hv" => "step",
            "scatter" when trace?["mode"]?.ToString() == "markers" => "scatter",
            "scatter" => "line",
            "bar" when trace?["orientation"]?.ToString() == "h" => "horizontal bar",
            _ => type,
        };
        return trace?["name"] is JsonValue name ? $"{kind} \"{name}\"" : kind;
    }

    Figure Add(JsonObject trace, string? mode = null)
    {
        if (mode is not null)
        {
            trace["mode"] = mode;
        }

        Data.Add(trace);
        return this;
    }

    static JsonObject XY<TX, TY>(string type, IEnumerable<TX> x, IEnumerable<TY> y, string? name,
        IEnumerable<string>? text)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var xs = Values(x);
        var ys = Values(y);
        if (xs.Count != ys.Count)
        {
            throw new ArgumentException($"x has {xs.Count} values but y has {ys.Count}: they must pair up.", nameof(y));
        }

        var trace = new JsonObject { ["type"] = type };
        if (name is not null)
        {
            trace["name"] = name;
        }

        trace["x"] = xs;
        trace["y"] = ys;
        if (text is not null)
        {
            var texts = Values(text);
            if (texts.Count != xs.Count)
            {
                throw new ArgumentException($"text has {texts.Count} entries for {xs.Count} points.", nameof(text));
            }

            trace["text"] = texts;
            trace["hoverinfo"] = name is null ? "x+y+text" : "x+y+text+name";
        }

        return trace;
    }

    static JsonObject WithBase<T>(JsonObject trace, IEnumerable<T>? start, int count)
    {
        if (start is not null)
        {
            var bases = Values(start);
            if (bases.Count != count)
            {
                throw new ArgumentException($"start has {bases.Count} entries for {count} bars.", nameof(start));
            }

            trace["base"] = bases;
        }

        return trace;
    }

    Figure Axis(string key, string title, bool log)
    {
        var axis = new JsonObject { ["title"] = new JsonObject { ["text"] = title } };
        if (log)
        {
            axis["type"] = "log";
        }

        Layout[key] = axis;
        return this;
    }

    // A dashed line across the whole plot (the other axis in "paper" units, 0 to 1). The label is the
    // shape's own, placed in data coordinates: an annotation would need log10(x) on a log axis.
    Figure Rule(string axis, JsonNode? at, string? label)
    {
        var other = axis == "x" ? "y" : "x";
        var shape = new JsonObject
        {
            ["type"] = "line",
            [axis + "ref"] = axis,
            [other + "ref"] = "paper",
            [axis + "0"] = at?.DeepClone(),
            [axis + "1"] = at,
            [other + "0"] = 0,
            [other + "1"] = 1,
            ["line"] = new JsonObject { ["dash"] = "dash", ["width"] = 1 },
        };
        if (label is not null)
        {
            shape["label"] = new JsonObject { ["text"] = label, ["textposition"] = "end", ["textangle"] = 0 };
        }

        if (Layout["shapes"] is not JsonArray shapes)
        {
            Layout["shapes"] = shapes = new JsonArray();
        }

        shapes.Add(shape);
        return this;
    }

    static JsonArray Values<T>(IEnumerable<T> values)
    {
        var array = new JsonArray();
        foreach (var value in values)
        {
            array.Add(Value(value));
        }

        return array;
    }

    // One value as plotly.js reads it: integers exact, non-finite numbers as gaps, the rest as text.
    static JsonNode? Value<T>(T value) => value switch
    {
        null => null,
        double d => double.IsFinite(d) ? JsonValue.Create(d) : null,
        float f => float.IsFinite(f) ? JsonValue.Create(f) : null,
        Half h => Half.IsFinite(h) ? JsonValue.Create((double)h) : null,
        int i => JsonValue.Create(i),
        long l => JsonValue.Create(l),
        ulong u => JsonValue.Create(u),
        uint u => JsonValue.Create(u),
        short s => JsonValue.Create(s),
        ushort u => JsonValue.Create(u),
        byte b => JsonValue.Create(b),
        sbyte b => JsonValue.Create(b),
        decimal m => JsonValue.Create(m),
        nint n => JsonValue.Create((long)n),
        nuint n => JsonValue.Create((ulong)n),
        bool b => JsonValue.Create(b),
        string s => JsonValue.Create(s),
        DateTime t => JsonValue.Create(t.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture)),
        IFormattable f => JsonValue.Create(f.ToString(null, CultureInfo.InvariantCulture)),
        _ => JsonValue.Create(value.ToString()),
    };
}

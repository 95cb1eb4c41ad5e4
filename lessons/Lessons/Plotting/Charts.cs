using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace Lessons.Plotting;

/// <summary>
/// How the lessons' Plotly.NET charts (<see cref="GenericChart"/>) show in a notebook: as
/// <c>application/vnd.plotly.v1+json</c> (drawn offline by VS Code's and Jupyter's renderers), a <c>text/html</c>
/// fallback that loads the pinned plotly.js, and a one-line <c>text/plain</c> summary. Registered when the library
/// is first used, so a notebook needs nothing but its <c>#r</c> of the library; the same in the workbook's runner and
/// in the real kernel.
/// </summary>
public static class Charts
{
    /// <summary>The MIME type of a plotly.js figure, rendered by Jupyter and VS Code notebooks.</summary>
    public const string PlotlyMimeType = "application/vnd.plotly.v1+json";

    /// <summary>The plotly.js version the HTML output loads (when the page has no <c>window.Plotly</c>) and the tests render with.</summary>
    public const string PlotlyJsVersion = "4.1.2";

    internal const string HtmlMimeType = "text/html";
    internal const string PlainTextMimeType = "text/plain";
    internal const string PlotlyCdnUrl = "https://cdn.plot.ly/plotly-" + PlotlyJsVersion + ".min.js";

    // Runs before any code of this library: the lessons' charts come from its methods, or from cells run after them.
    // Cheap outside a notebook (a CLI command, a test): the formatters wait for the kernel's Formatting assembly.
#pragma warning disable CA2255 // a library module initializer is the point: the kernel loads #r assemblies without a hook
    [ModuleInitializer]
    internal static void Register()
#pragma warning restore CA2255
    {
        // The last .NET Interactive kernel (1.0.712001) ships FSharp.Core 10.0; Plotly.NET 6 asks for 10.1 and cannot
        // load a second copy beside it. The library's bin holds no FSharp.Core (Lessons.csproj), so the request lands
        // here, and the kernel's copy serves it.
        AssemblyLoadContext.Default.Resolving += (_, name) => name.Name == "FSharp.Core"
            ? AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == "FSharp.Core")
            : null;
        if (AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Microsoft.DotNet.Interactive.Formatting"))
            RegisterFormatters();
    }

    static int registered;

    /// <summary>
    /// Registers the chart formatters with .NET Interactive's Formatter (once; the library does it itself when it
    /// is loaded into a kernel) and sets the default chart size.
    /// </summary>
    public static void RegisterFormatters()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1)
            return;
        Defaults.DefaultWidth = 760;
        Defaults.DefaultHeight = 460;
        // White plot, axis lines, plotly.js's own grid and colours. Plotly.NET's default "plotly" template adds 8 KB to
        // every chart (twice per output: JSON and HTML) and takes Newtonsoft ~200 ms to serialize; this one 0.8 ms.
        Defaults.DefaultTemplate = ChartTemplates.light;
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(ToJson(chart)), PlotlyMimeType);
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(ToHtml(chart)), HtmlMimeType);
        Formatter.Register<GenericChart>((chart, writer) => writer.Write(Describe(chart)), PlainTextMimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(GenericChart), PlotlyMimeType, HtmlMimeType, PlainTextMimeType);
    }

    /// <summary>The chart as plotly.js JSON: <c>{"data":[…],"layout":{…}}</c> (Plotly.NET's <c>toFigureJson</c>).</summary>
    public static string ToJson(GenericChart chart) => GenericChart.toFigureJson(chart);

    /// <summary>
    /// An HTML fragment that draws the chart: a <c>div</c> with a unique id and a script calling <c>Plotly.newPlot</c>,
    /// which first loads the pinned plotly.js if the page has no <c>window.Plotly</c>. (Plotly.NET's own HTML loads
    /// require.js and an unpinned plotly.js from CDNs.)
    /// </summary>
    public static string ToHtml(GenericChart chart)
    {
        var id = "plot-" + Guid.NewGuid().ToString("N");
        // Re-encoded with System.Text.Json, which escapes <, > and &: no value can close the script element.
        var figure = JsonNode.Parse(ToJson(chart))!.ToJsonString();
        return $$"""
            <div id="{{id}}"></div>
            <script type="text/javascript">
            (function () {
              var figure = {{figure}};
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

    /// <summary>A one-line summary for plain-text viewers, e.g. <c>Chart "Sizes": 2 traces (line "usable", bar); x: request; y: bytes (log)</c>.</summary>
    public static string Describe(GenericChart chart)
    {
        var figure = JsonNode.Parse(ToJson(chart))!;
        var data = figure["data"]?.AsArray() ?? [];
        var layout = figure["layout"];
        var text = new StringBuilder("Chart");
        if (layout?["title"]?["text"] is JsonValue title)
            text.Append(" \"").Append(title.ToString()).Append('"');
        text.Append(": ").Append(data.Count).Append(data.Count == 1 ? " trace" : " traces");
        if (data.Count > 0)
            text.Append(" (").AppendJoin(", ", data.Select(DescribeTrace)).Append(')');
        foreach (var axis in new[] { "x", "y" })
        {
            if (layout?[axis + "axis"] is JsonObject a)
            {
                text.Append("; ").Append(axis).Append(": ").Append(a["title"]?["text"]?.ToString() ?? "");
                if (a["type"]?.ToString() == "log")
                    text.Append(" (log)");
            }
        }
        return text.ToString();
    }

    static string DescribeTrace(JsonNode? trace)
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
}

using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TestTools;

namespace Lessons.Tests.Plotting;

/// <summary>
/// Draws plotly.js figures in headless Chromium with the local plotly.js from the npm package
/// (no network), and returns the DOM plotly drew. Needs what scripts/setup-test-tools.sh installs.
/// </summary>
static class PlotlyBrowser
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static string ChromiumPath => TestTool.ChromiumPath;

    public static string RepoRoot => TestTool.RepoRoot;

    public static string PlotlyPackagePath => TestTool.PlotlyPackagePath;

    public static string PlotlyJsPath => TestTool.PlotlyJsPath;

    /// <summary>Why figures cannot be drawn here (naming the set-up script), or null when they can.</summary>
    public static string? MissingReason => TestTool.MissingReason(Tool.Browser);

    /// <summary>Draws any plotly.js figure JSON (<c>{"data":[…],"layout":{…}}</c>), e.g. a notebook's plotly output.</summary>
    public static RenderedPage RenderFigureJson(string figureJson)
    {
        var figure = JsonNode.Parse(figureJson) as JsonObject
            ?? throw new ArgumentException("A plotly figure is a JSON object.", nameof(figureJson));
        // Re-serialized, the JSON escapes '<', so it cannot close the script element.
        var body = $$"""
            <div id="figure"></div>
            <script>
            var figure = {{figure.ToJsonString()}};
            Plotly.newPlot(document.getElementById("figure"), figure.data || [], figure.layout || {});
            </script>
            """;
        return RenderHtml(body);
    }

    /// <summary>Loads a page whose body is <paramref name="bodyHtml"/> and returns its DOM.</summary>
    /// <param name="bodyHtml">The page's body.</param>
    /// <param name="plotly">How the page gets plotly.js.</param>
    public static RenderedPage RenderHtml(string bodyHtml, PlotlyOnPage plotly = PlotlyOnPage.Preloaded) =>
        new(Run(Page(bodyHtml, plotly), "--dump-dom"));

    /// <summary>Writes a PNG screenshot of the page whose body is <paramref name="bodyHtml"/>.</summary>
    public static void Screenshot(string bodyHtml, string pngPath, int width = 900, int height = 520) =>
        Run(Page(bodyHtml, PlotlyOnPage.Preloaded), $"--screenshot={Path.GetFullPath(pngPath)}", $"--window-size={width},{height}", "--hide-scrollbars");

    static string Run(string pageHtml, params string[] action)
    {
        if (MissingReason is not null)
        {
            throw new InvalidOperationException(MissingReason);
        }

        var temp = Directory.CreateTempSubdirectory("lessons-plotly-");
        try
        {
            var page = Path.Combine(temp.FullName, "page.html");
            File.WriteAllText(page, pageHtml);
            var start = new ProcessStartInfo(ChromiumPath)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND", // never the network
                $"--user-data-dir={Path.Combine(temp.FullName, "profile")}",
                "--virtual-time-budget=10000",
            }.Concat(action))
            {
                start.ArgumentList.Add(arg);
            }

            start.ArgumentList.Add(new Uri(page).AbsoluteUri);
            using var chromium = Process.Start(start)!;
            var stdout = chromium.StandardOutput.ReadToEndAsync();
            var stderr = chromium.StandardError.ReadToEndAsync();
            if (!chromium.WaitForExit(Timeout))
            {
                chromium.Kill(entireProcessTree: true);
                chromium.WaitForExit();
                throw new TimeoutException($"Chromium did not finish within {Timeout.TotalSeconds} s; killed it.");
            }

            chromium.WaitForExit(); // lets the output readers finish
            if (chromium.ExitCode != 0)
            {
                throw new InvalidOperationException($"Chromium exited with {chromium.ExitCode}:\n{stderr.Result}");
            }

            return stdout.Result;
        }
        finally
        {
            Delete(temp);
        }
    }

    // The page: plotly.js as asked, and any script error written into the DOM where tests see it.
    static string Page(string bodyHtml, PlotlyOnPage plotly)
    {
        var local = new Uri(PlotlyJsPath).AbsoluteUri;
        var head = plotly switch
        {
            PlotlyOnPage.Preloaded => $"<script src=\"{local}\"></script>",
            // Scripts the page adds for the CDN load the local file instead, or a missing one.
            _ => $$$"""
                <script>
                var appendChild = HTMLHeadElement.prototype.appendChild;
                HTMLHeadElement.prototype.appendChild = function (node) {
                  if (node.src && node.src.indexOf("https://cdn.plot.ly/") === 0) {
                    window.cdnRequests = (window.cdnRequests || 0) + 1;
                    document.documentElement.setAttribute("data-cdn-requests", window.cdnRequests);
                    node.src = {{{(plotly == PlotlyOnPage.FromCdn ? $"\"{local}\"" : "\"file:///nonexistent/plotly.min.js\"")}}};
                  }
                  return appendChild.call(this, node);
                };
                </script>
                """,
        };
        return $$"""
            <!DOCTYPE html>
            <html><head><meta charset="utf-8">
            <script>
            function reportRenderError(message) {
              var pre = document.createElement("pre");
              pre.className = "render-error";
              pre.textContent = String(message);
              (document.body || document.documentElement).appendChild(pre);
            }
            window.addEventListener("error", function (e) { reportRenderError(e.message); });
            window.addEventListener("unhandledrejection", function (e) { reportRenderError(e.reason); });
            </script>
            {{head}}
            </head><body>
            {{bodyHtml}}
            </body></html>
            """;
    }

    static void Delete(DirectoryInfo directory)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                directory.Delete(recursive: true);
                return;
            }
            catch (IOException) when (attempt < 5)
            {
                Thread.Sleep(200); // a Chromium helper may still be closing files
            }
        }
    }
}

/// <summary>How a test page gets plotly.js.</summary>
enum PlotlyOnPage
{
    /// <summary>A script element loads the local plotly.js before the body.</summary>
    Preloaded,

    /// <summary>Not loaded: a figure's HTML loads it from the CDN, which the page serves from the local file.</summary>
    FromCdn,

    /// <summary>Not loaded, and a CDN load fails (as offline).</summary>
    Unavailable,
}

/// <summary>The DOM of a page after plotly.js drew in it.</summary>
sealed record RenderedPage(string Dom)
{
    /// <summary>Script errors raised while the page loaded.</summary>
    public IReadOnlyList<string> Errors =>
        Regex.Matches(Dom, "<pre class=\"render-error\">(.*?)</pre>", RegexOptions.Singleline)
            .Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();

    /// <summary>How many times <paramref name="fragment"/> occurs in the DOM.</summary>
    public int Count(string fragment) => Regex.Matches(Dom, Regex.Escape(fragment)).Count;
}

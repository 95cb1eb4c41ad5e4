using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Lessons.Tests.Plotting;
using TestTools;
using Workbook.Notebooks;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>Runs every lesson notebook of the repository once, through the CLI as a real process.</summary>
public sealed class ExecutedRepositoryNotebooks : IDisposable
{
    readonly TempFolder temp = new();

    public ExecutedRepositoryNotebooks()
    {
        Root = Repository.FindRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("no Lessons.sln above the test output");
        Expected = Directory.GetFiles(Path.Combine(Root, "notebooks"), "*.ipynb").Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToList();
        (ExitCode, Stdout, Stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "run", "--out", temp.Path], Root, TimeSpan.FromMinutes(20));
        Executed = Directory.GetFiles(temp.Path).Order(StringComparer.Ordinal).ToList();
    }

    public string Root { get; }
    public IReadOnlyList<string> Expected { get; }
    public int ExitCode { get; }
    public string Stdout { get; }
    public string Stderr { get; }
    public IReadOnlyList<string> Executed { get; }

    public void Dispose() => temp.Dispose();
}

public class RepositoryNotebooksTests(ExecutedRepositoryNotebooks run) : IClassFixture<ExecutedRepositoryNotebooks>
{
    [Fact]
    public void Every_notebook_in_the_repository_runs()
    {
        Assert.True(run.ExitCode == 0, $"workbook run exited with {run.ExitCode}\n{run.Stdout}\n{run.Stderr}");
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(run.Expected, lines[..^1].Select(line => line.Split("  ")[0]));
        Assert.StartsWith($"total  {run.Expected.Count} notebook{(run.Expected.Count == 1 ? "" : "s")}  ", lines[^1]);
        Assert.Equal(run.Expected, run.Executed.Select(Path.GetFileName));
    }

    [Fact]
    public void Every_claim_a_notebook_checks_holds()
    {
        // The lessons print each claim as "yes  <claim>", or "NO   <claim>" when this machine's run contradicts it.
        Assert.NotEmpty(run.Executed);
        var problems = new List<string>();
        foreach (var path in run.Executed)
        {
            var cells = CodeCells(NotebookFile.Load(path));
            bool checksClaims = cells.Any(cell => Source(cell).Contains("? \"yes\" : \"NO \")", StringComparison.Ordinal));
            var lines = cells.SelectMany(Outputs)
                .SelectMany(output => (string?)output["output_type"] == "stream"
                    ? Text(output["text"]).Split('\n')
                    : [.. Text(output["data"]?["text/plain"]).Split('\n'), .. KernelListItems(Text(output["data"]?["text/html"]))])
                .ToList();
            problems.AddRange(lines.Where(line => line.StartsWith("NO  ", StringComparison.Ordinal)).Select(line => $"{Path.GetFileName(path)}: {line}"));
            if (checksClaims && !lines.Any(line => line.StartsWith("yes  ", StringComparison.Ordinal)))
                problems.Add($"{Path.GetFileName(path)}: its cells check claims, but no claim line was printed");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// The items of a sequence as the kernel shows a cell's value, "[ a, b ]" in its plain-text HTML; items split where
    /// a claim line starts (a claim itself may hold ", ").
    /// </summary>
    static IEnumerable<string> KernelListItems(string html)
    {
        var list = Regex.Match(html, @"^<div class=""dni-plaintext""><pre>\[ (.*) \]</pre></div>", RegexOptions.Singleline);
        return list.Success ? Regex.Split(WebUtility.HtmlDecode(list.Groups[1].Value), ", (?=yes  |NO   )") : [];
    }

    static string Text(JsonNode? text) => text is JsonArray parts ? string.Concat(parts.Select(t => (string?)t)) : (string?)text ?? "";

    static string Source(JsonObject cell) => Text(cell["source"]);

    [RequiresTool(Tool.Nbformat)]
    public void Every_executed_notebook_is_valid_nbformat()
    {
        Assert.NotEmpty(run.Executed);
        foreach (var executed in run.Executed)
            AssertValidNbformat(executed);
    }

    [RequiresTool(Tool.Browser)]
    public void Every_plot_in_an_executed_notebook_draws_in_a_browser()
    {
        var figures = run.Executed
            .SelectMany(path => NotebookFile.Load(path)["cells"]!.AsArray())
            .SelectMany(cell => cell!["outputs"]?.AsArray() ?? [])
            .Select(output => output!["data"]?[Lessons.Plotting.Figure.PlotlyMimeType])
            .OfType<JsonObject>()
            .ToList();
        Assert.NotEmpty(figures); // lesson 01 plots its layout
        foreach (var figure in figures)
        {
            var page = PlotlyBrowser.RenderFigureJson(figure.ToJsonString());
            Assert.Empty(page.Errors);
            Assert.True(page.Count("class=\"main-svg\"") >= 1, page.Dom);
            int traces = page.Count("class=\"trace scatter") + page.Count("class=\"trace bars");
            Assert.Equal(figure["data"]!.AsArray().Count, traces);
        }
    }
}

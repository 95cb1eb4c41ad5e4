using System.Text.Json.Nodes;
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
        Assert.NotEmpty(run.Executed);
        var problems = run.Executed.SelectMany(NotebookChecks.ClaimProblems).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_last_cell_of_every_notebook_checks_its_lesson_and_the_solutions_pass()
    {
        Assert.NotEmpty(run.Executed);
        foreach (var executed in run.Executed)
        {
            var name = Path.GetFileName(executed);
            var last = CodeCells(NotebookFile.Load(executed))[^1];
            Assert.Contains($"Lessons.ExerciseCheck.Run({int.Parse(name[..2])});", string.Concat(last["source"]!.AsArray().Select(l => (string?)l)));
            var text = Printed(last);
            Assert.Matches($@"^Lesson {name[..2]}: (\d+)/\1 graded tests passed, (\d+)/\2 points\n", text);
            Assert.EndsWith($"yes  the solutions in lessons/Exercises pass lesson {name[..2]}'s visible graded tests\n", text);
        }
    }

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
            .Select(output => output!["data"]?[Lessons.Plotting.Charts.PlotlyMimeType])
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

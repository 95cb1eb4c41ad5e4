using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>Every lesson notebook in the repository runs without error, through the CLI as a real process.</summary>
public class RepositoryNotebooksTests
{
    [Fact]
    public void Every_notebook_in_the_repository_runs()
    {
        var root = Repository.FindRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("no Lessons.sln above the test output");
        var expected = Directory.GetFiles(Path.Combine(root, "notebooks"), "*.ipynb").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        using var temp = new TempFolder();

        var (exitCode, stdout, stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "run", "--out", temp.Path], root, TimeSpan.FromMinutes(20));

        Assert.True(exitCode == 0, $"workbook run exited with {exitCode}\n{stdout}\n{stderr}");
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected, lines[..^1].Select(line => line.Split("  ")[0]));
        Assert.StartsWith($"total  {expected.Count} notebook{(expected.Count == 1 ? "" : "s")}  ", lines[^1]);
        Assert.Equal(expected, Directory.GetFiles(temp.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var executed in Directory.GetFiles(temp.Path))
            AssertValidNbformat(executed);
    }
}

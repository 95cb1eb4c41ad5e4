using Workbook.Release;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>
/// `workbook check NN`, which the last cell of each notebook runs: in this repository (the solutions pass, with a
/// "yes" claim); the student copy's stubs are checked in GradingFilesTests, on a released copy.
/// </summary>
public class CheckCommandTests
{
    static readonly string Root = Repository.FindRoot(AppContext.BaseDirectory)!;

    [Fact]
    public void The_check_runs_a_lessons_visible_graded_tests_and_claims_the_solutions_pass()
    {
        var (exitCode, stdout, stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "check", "01"], Path.Combine(Root, "notebooks"), TimeSpan.FromMinutes(3));

        Assert.True(exitCode == 0, stdout + stderr);
        var tests = GradedSources.Tests(Directory.EnumerateFiles(Path.Combine(Root, "tests", "Exercises.Tests"), "Ex01*.cs")
            .ToDictionary(f => Path.GetRelativePath(Root, f).Replace('\\', '/'), File.ReadAllBytes));
        var visible = tests.Where(t => !t.Hidden).ToList();
        Assert.StartsWith($"Lesson 01: {visible.Count}/{visible.Count} graded tests passed, {visible.Sum(t => t.Points)}/{visible.Sum(t => t.Points)} points\n", stdout);
        Assert.All(visible, t => Assert.Contains($"  {t.Name.Split('.')[^2]}.{t.Name.Split('.')[^1]}\n", stdout));
        Assert.All(tests.Where(t => t.Hidden), t => Assert.DoesNotContain(t.Name.Split('.')[^1], stdout));
        Assert.EndsWith("\nyes  the solutions in lessons/Exercises pass lesson 01's visible graded tests\n", stdout);
    }

    [Fact]
    public void The_instructor_guides_check_command_passes_here()
    {
        const string Prefix = "dotnet run --project lessons/Workbook -- ";
        var guide = File.ReadAllLines(Path.Combine(Root, "docs", "instructor-guide.md")).Select(l => l.Trim());
        var args = Assert.Single(guide, l => l.StartsWith(Prefix + "check ", StringComparison.Ordinal))[Prefix.Length..].Split(' ');
        var (stdout, saved) = (new StringWriter(), Console.Out);
        Console.SetOut(stdout);
        int exitCode;
        try
        {
            exitCode = Program.Main(args);
        }
        finally
        {
            Console.SetOut(saved);
        }

        Assert.True(exitCode == 0, stdout.ToString());
        Assert.Contains($"yes  the solutions in lessons/Exercises pass lesson {args[1]}'s visible graded tests", stdout.ToString());
    }

    [Theory]
    [InlineData(2, "x")]
    [InlineData(2, "0")]
    [InlineData(2, "01", "02")]
    [InlineData(0, "--help")]
    [InlineData(1, "42")]
    public void Bad_arguments_give_usage_and_a_lesson_without_graded_tests_says_so(int expected, params string[] args)
    {
        var (exitCode, stdout, stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "check", .. args], Root, TimeSpan.FromMinutes(1));

        Assert.Equal(expected, exitCode);
        Assert.Contains(expected == 1 ? "Lesson 42 has no graded tests." : "usage: workbook check LESSON", stdout + stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}

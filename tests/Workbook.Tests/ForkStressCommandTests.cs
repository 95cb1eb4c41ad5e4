using System.Text.RegularExpressions;
using Lessons;
using TestTools;

namespace Workbook.Tests;

/// <summary>
/// `fork-stress` as a real process, a few forks only: it ends with the C fork loops' comparison (the rates and
/// ratios) when gcc is there, and --no-compare leaves it out. No timing is asserted: the figures are a benchmark's.
/// </summary>
public partial class ForkStressCommandTests
{
    static CliRun Cli(params string[] args) => WorkbookCli.Run(args, CommandLineTests.WorkbookDll, TimeSpan.FromSeconds(120));

    [GeneratedRegex(@"^\.NET: +\d+ forks/s  \(RssAnon \d+\.\d MiB, (\d+) mappings, (no load|\d+ threads allocating)\)\n" +
        @"C, same shape: +\d+ forks/s  \(RssAnon \d+\.\d MiB, (\d+) mappings, (\d+) threads allocating; \d+ forks in \d+\.\d\d s\)  ratio C/\.NET = \d+\.\d\d×\n" +
        @"C, RssAnon only: +\d+ forks/s  \(RssAnon \d+\.\d MiB, (\d+) mappings, no threads; \d+ forks in \d+\.\d\d s\)  ratio C/\.NET = \d+\.\d\d×$", RegexOptions.Multiline)]
    private static partial Regex ComparisonLine();

    /// <summary>The C loop of the same shape has about as many mappings as .NET (its threads' malloc arenas come and go)
    /// and as many threads; the RssAnon-only loop far fewer mappings.</summary>
    static void ShapesMatch(string stdout, int threads)
    {
        var m = ComparisonLine().Match(stdout);
        Assert.True(m.Success, stdout);
        int dotnet = int.Parse(m.Groups[1].Value), matched = int.Parse(m.Groups[3].Value), rssOnly = int.Parse(m.Groups[5].Value);
        Assert.InRange(matched, dotnet - 4, dotnet + 4);
        Assert.Equal(threads, int.Parse(m.Groups[4].Value));
        Assert.True(rssOnly < dotnet / 2, $"the RssAnon-only loop has {rssOnly} mappings, .NET {dotnet}\n{stdout}");
    }

    [RequiresTool(Tool.CCompiler)]
    public void With_gcc_the_run_ends_with_both_rates_and_their_ratio()
    {
        var r = Cli("fork-stress", "--forks", "40", "--threads", "0");
        Assert.True(r.ExitCode == 0, r.ToString());
        if (CPrograms.FindTool("gcc") is null)
        {
            // A C compiler but no gcc on PATH: the run says why it skipped the comparison, with the same exit code.
            Assert.Contains("C comparison:      skipped (gcc is not on PATH", r.Stdout);
            return;
        }
        ShapesMatch(r.Stdout, threads: 0);
        Assert.Contains("within 1.5× of C of the same shape (no load)", r.Stdout);
    }

    [RequiresTool(Tool.CCompiler)]
    public void Under_load_the_goal_is_three_times()
    {
        var r = Cli("fork-stress", "--forks", "20", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        if (CPrograms.FindTool("gcc") is null)
            return; // the test above checks the skipped line
        ShapesMatch(r.Stdout, threads: 1);
        Assert.Contains("within 3.0× of C of the same shape (1 threads allocating)", r.Stdout);
    }

    [Fact]
    public void No_compare_leaves_the_comparison_out()
    {
        var r = Cli("fork-stress", "--forks", "20", "--threads", "0", "--no-compare");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("forks per second:", r.Stdout);
        Assert.DoesNotMatch(ComparisonLine(), r.Stdout);
        Assert.DoesNotContain("C comparison", r.Stdout);
        Assert.DoesNotContain("C, same shape", r.Stdout);
    }
}

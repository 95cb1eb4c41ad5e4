using System.Text.RegularExpressions;
using Lessons;
using TestTools;

namespace Workbook.Tests;

/// <summary>
/// `fork-stress` as a real process, a few forks only: it ends with the C fork loop's comparison line (both rates and a
/// ratio) when gcc is there, and --no-compare leaves it out. No timing is asserted: the figures are a benchmark's.
/// </summary>
public partial class ForkStressCommandTests
{
    static CliRun Cli(params string[] args) => WorkbookCli.Run(args, CommandLineTests.WorkbookDll, TimeSpan.FromSeconds(120));

    [GeneratedRegex(@"^\.NET: \d+ forks/s  C \(same RssAnon \d+\.\d MiB\): \d+ forks/s  ratio M/N = \d+\.\d\d×$", RegexOptions.Multiline)]
    private static partial Regex ComparisonLine();

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
        Assert.Matches(ComparisonLine(), r.Stdout);
        Assert.Contains("within 1.5× (no load)", r.Stdout);
    }

    [RequiresTool(Tool.CCompiler)]
    public void Under_load_the_goal_is_three_times()
    {
        var r = Cli("fork-stress", "--forks", "20", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.ToString());
        if (CPrograms.FindTool("gcc") is null)
            return; // the test above checks the skipped line
        Assert.Matches(ComparisonLine(), r.Stdout);
        Assert.Contains("within 3.0× (1 threads allocating)", r.Stdout);
    }

    [Fact]
    public void No_compare_leaves_the_comparison_out()
    {
        var r = Cli("fork-stress", "--forks", "20", "--threads", "0", "--no-compare");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("forks per second:", r.Stdout);
        Assert.DoesNotMatch(ComparisonLine(), r.Stdout);
        Assert.DoesNotContain("C comparison", r.Stdout);
        Assert.DoesNotContain("C (same RssAnon", r.Stdout);
    }
}

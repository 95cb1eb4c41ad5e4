using Lessons.L03_ProgramBreak;
using Lessons.Posix;
using Workbook.L03_ProgramBreak;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

public class BreakTraceCommandTests
{
    static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) =>
        RunProcess("dotnet", [CommandLineTests.WorkbookDll, "break-trace", .. args], AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

    [Fact]
    public void Large_mallocs_on_the_main_thread_are_mapped_far_from_the_break_which_stays()
    {
        var (exitCode, stdout, stderr) = Run("--count", "4", "--size", (64L << 20).ToString(), "--json");

        Assert.True(exitCode == 0, stderr);
        var steps = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(BreakStep.FromJson).ToList();
        Assert.Equal([1, 2, 3, 4], steps.Select(s => s.Step));
        Assert.All(steps, s =>
        {
            Assert.Equal("malloc", s.Phase);
            Assert.Equal(64L << 20, s.Request);
            Assert.True(s.MainThread);
            Assert.Equal(RegionKind.Anonymous, s.Kind);
            Assert.Equal(0, s.BreakMoved);
            Assert.True(Math.Abs(s.DistanceFromBreak) > 1L << 30, $"{s} is within 1 GiB of the break");
        });
    }

    [Fact]
    public void Small_mallocs_on_the_main_thread_come_from_the_heap_and_move_the_break_up()
    {
        var (exitCode, stdout, stderr) = Run("--count", "50", "--size", "32768", "--json");

        Assert.True(exitCode == 0, stderr);
        var steps = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(BreakStep.FromJson).ToList();
        Assert.Equal(50, steps.Count);
        Assert.All(steps, s => Assert.Equal(RegionKind.Heap, s.Kind));
        Assert.All(steps, s => Assert.True(s.Pointer + 32768 <= s.BreakAfter, $"{s}: block ends above the break"));
        // Free space the process already had in [heap] may serve the first blocks: the break need not grow by all 50.
        Assert.Contains(steps, s => s.BreakMoved > 0);
        Assert.All(steps, s => Assert.True(s.BreakAfter >= s.BreakBefore, $"{s}: the break moved down"));
    }

    [Fact]
    public void Free_and_retry_adds_one_retry_step_and_the_table_names_the_main_thread()
    {
        var (exitCode, stdout, stderr) = Run("--count", "1", "--size", "1048576", "--free-and-retry");

        Assert.True(exitCode == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("main thread: yes", lines[0]);
        Assert.Equal(BreakStep.Header, lines[1]);
        Assert.StartsWith("malloc    1", lines[2]);
        Assert.StartsWith("retry     2", lines[3]);
        Assert.Equal(4, lines.Length);
    }

    [Theory]
    [InlineData("unknown option '--fast'", "--fast")]
    [InlineData("--count needs a value", "--count")]
    [InlineData("--size needs a whole number, not '-5'", "--size", "-5")]
    [InlineData("--count must be 1 to 10000", "--count", "0")]
    public void Usage_errors_exit_2(string message, params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        Assert.Equal(2, BreakTraceCommand.Execute(args, stdout, stderr));
        Assert.StartsWith($"break-trace: {message}\nusage: workbook break-trace", stderr.ToString());
    }
}

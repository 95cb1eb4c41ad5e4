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

    [Fact]
    public void The_last_of_the_frees_lowers_the_break_and_malloc_trim_lowers_it_further()
    {
        var (exitCode, stdout, stderr) = Run("--count", "50", "--size", "32768", "--free-all", "--trim", "--json");

        Assert.True(exitCode == 0, stderr);
        var steps = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(BreakStep.FromJson).ToList();
        var frees = steps.Where(s => s.Phase == "free").ToList();
        Assert.Equal(50, frees.Count);
        Assert.All(frees.SkipLast(1), s => Assert.Equal(0, s.BreakMoved));
        Assert.True(frees[^1].BreakMoved < 0, frees[^1].ToString());
        Assert.InRange(frees[^1].FreeTopAfter, 128 * 1024, 128 * 1024 + Environment.SystemPageSize + 32); // M_TOP_PAD + MINSIZE kept, at most a page more
        var trim = steps.Single(s => s.Phase == "trim");
        Assert.True(trim.BreakMoved < 0 && trim.Pointer == 1, trim.ToString());
        Assert.InRange(trim.FreeTopAfter, 0, Environment.SystemPageSize + 32);
    }

    [Fact]
    public void With_one_arena_a_thread_mallocs_from_the_heap_and_by_default_from_an_arena_of_its_own()
    {
        var workbook = CommandLineTests.WorkbookDll;
        var options = new BreakTraceOptions(Count: 8, Size: 32 * 1024, OnThread: true);

        var own = BreakTrace.RunInChild(options, workbook);
        var shared = BreakTrace.RunInChild(options, workbook, arenaMax: 1);

        Assert.All(own.Concat(shared), s => Assert.False(s.MainThread));
        Assert.All(own, s => Assert.Equal(RegionKind.Anonymous, s.Kind));
        Assert.Equal(0, own.Sum(s => s.BreakMoved));
        Assert.All(shared, s => Assert.Equal(RegionKind.Heap, s.Kind));
        Assert.True(shared.Sum(s => s.BreakMoved) > 0);
    }

    [Fact]
    public void A_zero_top_pad_makes_each_brk_just_the_page_rounded_shortfall()
    {
        var (exitCode, stdout, stderr) = Run("--count", "10", "--size", "32768", "--top-pad", "0", "--json");

        Assert.True(exitCode == 0, stderr);
        var moves = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(BreakStep.FromJson).Where(s => s.BreakMoved != 0 && s.FreeTopBefore < 32784 + 32).ToList(); // moves this malloc had to make
        Assert.NotEmpty(moves);
        long page = Environment.SystemPageSize;
        Assert.All(moves, s => Assert.Equal((32784 + 32 - s.FreeTopBefore + page - 1) / page * page, s.BreakMoved));
    }
}

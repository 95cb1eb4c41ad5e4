using Lessons.L03_ProgramBreak;
using Lessons.Posix;

namespace Lessons.Tests.L03_ProgramBreak;

public class BreakTraceTests
{
    [Fact]
    public void A_step_survives_a_json_round_trip()
    {
        var step = new BreakStep("retry", 7, 1 << 20, 0x7f0000001010, 0x5600_0000_0000, 0x5600_0010_0000, RegionKind.Heap, true, 4096, 135_168);

        Assert.Equal(step, BreakStep.FromJson(step.ToJson()));
        Assert.Equal(0x10_0000, step.BreakMoved);
    }

    [Fact]
    public void A_chunk_starting_where_the_free_top_started_was_carved_from_the_top()
    {
        var fromTop = new BreakStep("malloc", 1, 32768, 0x5600_0000_1010, 0x5600_0000_9000, 0x5600_0000_9000, RegionKind.Heap, true, 0x8000, 0x10);
        Assert.True(fromTop.CarvedFromTop);
        Assert.False((fromTop with { Pointer = 0x5600_0000_0010 }).CarvedFromTop); // below the top: a reused free chunk
        Assert.False((fromTop with { Phase = "free" }).CarvedFromTop);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"phase\":\"malloc\"}")]
    [InlineData("{\"phase\":\"malloc\",\"step\":1,\"request\":1,\"pointer\":1,\"breakBefore\":1,\"breakAfter\":1,\"kind\":\"Nowhere\",\"mainThread\":true}")]
    public void A_bad_line_is_a_format_error_quoting_it(string line)
    {
        var e = Assert.Throws<FormatException>(() => BreakStep.FromJson(line));
        Assert.Contains(line, e.Message);
    }

    [Fact]
    public void Options_become_the_command_line_arguments()
    {
        Assert.Equal(["--count", "50", "--size", "32768"], new BreakTraceOptions().ToArguments());
        Assert.Equal(["--count", "2", "--size", "9", "--threshold", "4096", "--free-and-retry"],
            new BreakTraceOptions(2, 9, 4096, true).ToArguments());
        Assert.Equal(["--count", "1", "--size", "8", "--top-pad", "0", "--trim-threshold", "65536", "--free-all", "--trim", "--on-thread"],
            new BreakTraceOptions(1, 8, TopPad: 0, TrimThreshold: 65536, FreeAll: true, Trim: true, OnThread: true).ToArguments());
    }

    [Fact]
    public void Negative_pads_thresholds_and_arena_counts_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BreakTrace.Run(new BreakTraceOptions(1, 8, TopPad: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => BreakTrace.Run(new BreakTraceOptions(1, 8, TrimThreshold: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => BreakTrace.RunInChild(new BreakTraceOptions(1, 8), arenaMax: 0));
    }

    [Fact]
    public void Free_all_and_trim_record_one_step_per_free_and_one_for_malloc_trim_on_a_new_thread()
    {
        var steps = BreakTrace.Run(new BreakTraceOptions(Count: 3, Size: 64L << 20, FreeAll: true, Trim: true, OnThread: true));

        Assert.Equal(["malloc", "malloc", "malloc", "free", "free", "free", "trim"], steps.Select(s => s.Phase));
        Assert.Equal(Enumerable.Range(1, 7), steps.Select(s => s.Step));
        Assert.Equal(steps.Take(3).Select(s => s.Pointer), steps.Skip(3).Take(3).Select(s => s.Pointer)); // freed first to last
        Assert.All(steps, s => Assert.False(s.MainThread));
        Assert.Contains(steps[^1].Pointer, new[] { 0UL, 1UL });
        var after = ProcMaps.Read();
        Assert.All(steps.Take(3), s => Assert.DoesNotContain(after, r => r.Start == s.Pointer - 16 && r.Size > 64UL << 20)); // unmapped by free
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(10_001, 1)]
    [InlineData(1, 0)]
    [InlineData(1, (1L << 30) + 1)]
    public void Out_of_range_options_are_refused_before_any_malloc(int count, long size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BreakTrace.Run(new BreakTraceOptions(count, size)));
    }

    [Fact]
    public void Run_in_process_reports_every_malloc_and_frees_them()
    {
        var steps = BreakTrace.Run(new BreakTraceOptions(Count: 3, Size: 64L << 20, FreeAndRetry: true));

        Assert.Equal(["malloc", "malloc", "malloc", "retry"], steps.Select(s => s.Phase));
        Assert.Equal([1, 2, 3, 4], steps.Select(s => s.Step));
        Assert.All(steps.Take(3), s => Assert.Equal(RegionKind.Anonymous, s.Kind)); // 64 MiB is above every mmap threshold
        var after = ProcMaps.Read();
        Assert.All(steps, s => Assert.DoesNotContain(after, r => r.Start == s.Pointer - 16 && r.Size > 64UL << 20)); // unmapped by free
    }

    [Fact]
    public void Run_in_child_finds_a_missing_workbook_and_says_how_to_build_it()
    {
        var e = Assert.Throws<FileNotFoundException>(() => BreakTrace.RunInChild(new BreakTraceOptions(1, 16), "/nonexistent/Workbook.dll"));
        Assert.Contains("dotnet build lessons/Workbook", e.Message);
    }
}

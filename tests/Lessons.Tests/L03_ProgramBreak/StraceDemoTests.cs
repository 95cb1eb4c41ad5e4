using Lessons.L03_ProgramBreak;
using TestTools;

namespace Lessons.Tests.L03_ProgramBreak;

public class StraceDemoTests
{
    [Fact]
    public void The_log_parser_keeps_brk_mmap_and_munmap_and_reads_their_numbers()
    {
        var calls = StraceDemo.ParseLog([
            "brk(NULL)                               = 0x55d0c8a3b000",
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f1e2a5b4000",
            "munmap(0x7f1e2a5a0000, 77808)           = 0",
            "brk(0x55d0c8a5c000)                     = 0x55d0c8a5c000",
            "+++ exited with 0 +++",
        ]);

        Assert.Equal(["brk", "mmap", "munmap", "brk"], calls.Select(c => c.Name));
        Assert.Equal(0UL, calls[0].BrkArgument);
        Assert.Equal(0x55d0c8a5c000UL, calls[3].BrkArgument);
        Assert.Null(calls[1].BrkArgument);
        Assert.Equal(0x7f1e2a5b4000UL, calls[1].ResultAddress);
        Assert.Null(calls[2].ResultAddress);
        Assert.Equal([0x21000L], new StraceRun(null, [], calls).BrkMoves);
    }

    [RequiresTool(Tool.CCompiler, Tool.Strace)]
    public void The_lecture_program_moves_the_break_up_in_steps_and_once_down_after_the_frees()
    {
        var run = StraceDemo.Run();

        Assert.True(run.Ran, run.Missing);
        Assert.Equal(51, run.Breaks.Count);
        var moves = run.BrkMoves;
        Assert.True(moves.Count >= 3, string.Join(", ", moves));
        Assert.True(moves[0] > 0);
        Assert.All(moves.Take(moves.Count - 1), m => Assert.True(m > 128 * 1024, $"a move of {m} bytes"));
        Assert.True(moves[^1] < 0, "the frees lowered the break"); // the last free merges all into the top, which is trimmed
        Assert.Equal(run.Breaks[^1], run.Calls.Where(c => c.Name == "brk").Select(c => c.ResultAddress!.Value).SkipLast(1).Last());
    }
}

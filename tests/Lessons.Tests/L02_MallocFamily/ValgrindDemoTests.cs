using Lessons.L02_MallocFamily;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.L02_MallocFamily;

public class ValgrindDemoTests
{
    [Fact]
    public void TheCheckingHeapSeesConcat4sLeakAndRefusesTheDanglingRead()
    {
        var (result, report) = ValgrindDemo.Concat4OnCheckingHeap();
        Assert.Equal("You shall not pass.", result);
        Assert.Equal((21L, 2), (report.DefinitelyLostBytes, report.DefinitelyLostBlocks));
        var (before, after, dangling) = ValgrindDemo.DanglingOnCheckingHeap();
        Assert.Equal("abracadabra", before);
        Assert.Contains("use after free", after, StringComparison.Ordinal);
        Assert.Equal(0, dangling.DefinitelyLostBlocks);
    }

    [Fact]
    public void ReportLinesKeepTheFirstErrorAndTheSummariesWithoutFrames()
    {
        string[] log =
        [
            "==7== Memcheck, a memory error detector", "==7== Invalid read of size 1", "==7==    at 0x1: strlen (x.so)",
            "==7==  Address 0x4a41040 is 0 bytes inside a block of size 12 free'd", "==7== Invalid read of size 1",
            "==7==  Address 0x4a41041 is 1 bytes inside a block of size 12 free'd", "==7== ", "==7== HEAP SUMMARY:",
            "==7==     in use at exit: 21 bytes in 2 blocks", "==7== 10 bytes in 1 blocks are definitely lost in loss record 1 of 2",
            "==7==    at 0x48465EF: calloc (in vgpreload.so)", "==7== LEAK SUMMARY:", "==7==    definitely lost: 21 bytes in 2 blocks",
            "==7== For lists of detected and suppressed errors, rerun with: -s", "==7== ERROR SUMMARY: 4 errors from 2 contexts (suppressed: 0 from 0)",
        ];
        var lines = ValgrindDemo.ReportLines(log);
        Assert.Equal(
        [
            "Invalid read of size 1", "  Address 0x4a41040 is 0 bytes inside a block of size 12 free'd", "HEAP SUMMARY:",
            "  in use at exit: 21 bytes in 2 blocks", "10 bytes in 1 blocks are definitely lost in loss record 1 of 2", "LEAK SUMMARY:",
            "  definitely lost: 21 bytes in 2 blocks", "ERROR SUMMARY: 4 errors from 2 contexts (suppressed: 0 from 0)",
        ], lines);
        var run = new ValgrindRun("x", null, "", lines);
        Assert.Equal((21L, 2), run.DefinitelyLost);
        Assert.Equal(1, run.InvalidReads);
    }

    [RequiresTool(Tool.CCompiler, Tool.Valgrind)]
    public void ValgrindFindsTheSameLeakAndTheInvalidRead()
    {
        var run = ValgrindDemo.Run("concat4", ValgrindDemo.Concat4);
        Assert.True(run.Ran, run.Missing);
        Assert.Contains("You shall not pass.", run.Stdout, StringComparison.Ordinal);
        Assert.Equal((21L, 2), run.DefinitelyLost);
        var dangling = ValgrindDemo.Run("dangling", ValgrindDemo.Dangling);
        Assert.True(dangling.InvalidReads > 0, dangling.ToString());
        Assert.Equal((0L, 0), dangling.DefinitelyLost);
    }

    [RequiresTool(Tool.CCompiler, Tool.Valgrind)]
    public void TheLecturesExerciseTakesItsStringsFromTheCommandLineWithoutLeakOrError()
    {
        var run = ValgrindDemo.Run("concat-args", ValgrindDemo.ConcatArgs, "memory ", "management");
        Assert.True(run.Ran, run.Missing);
        Assert.Equal("memory  + management = memory management", run.Stdout.Trim());
        Assert.Equal((0L, 0), run.DefinitelyLost);
        Assert.Contains(run.Report, l => l.StartsWith("ERROR SUMMARY: 0 errors", StringComparison.Ordinal));
        Assert.Equal(0, run.ExitCode);
        var noArguments = ValgrindDemo.Run("concat-args", ValgrindDemo.ConcatArgs);
        Assert.Equal(1, noArguments.ExitCode);
        Assert.StartsWith("usage: ", noArguments.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void PageGuardsTurnDanglingsReadAfterFreeIntoAFault()
    {
        var run = PageGuardDemo.Dangling();
        Assert.Equal(PageGuardDemo.Text.Length + 1, run.Size);
        Assert.Equal((int)'a', run.LiveRead.ExitCode);
        Assert.Equal("---p", run.GuardPermissions);
        Assert.Equal(Signal.SIGSEGV, run.ReadPastEnd.KilledBy);
        Assert.Equal("---p", run.FreedPermissions);
        Assert.Equal(Signal.SIGSEGV, run.ReadAfterFree.KilledBy);
    }
}

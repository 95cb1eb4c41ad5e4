using Lessons.Heap;
using Workbook.L05_BuildAnAllocator;

namespace Workbook.Tests;

public class MallocLabCommandTests
{
    static (int ExitCode, string Stdout, string Stderr) MallocLab(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int exitCode = MallocLabCommand.Execute(args, stdout, stderr);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void List_names_libc_the_reference_allocators_and_the_students()
    {
        var (exitCode, stdout, _) = MallocLab("--list");

        Assert.Equal(0, exitCode);
        Assert.Single(stdout.Split('\n'), line => line.StartsWith("  libc ", StringComparison.Ordinal) && line.Contains("glibc's malloc, realloc and free"));
        foreach (var a in Allocators.All) Assert.Matches($@"\n  {a.Name} +.+ \(Lessons\.Heap\.\w+, Lessons\.dll\)\n", stdout);
        Assert.Equal(["naive", "first-fit", "next-fit", "best-fit", "segregated", "segregated-slabs", "buddy"], Allocators.Names);
        Assert.Matches(@"\n  student +.+ \(Exercises\.StudentAllocator, Exercises\.dll\)\n", stdout);
    }

    [Theory]
    [InlineData("--allocator NAME is required")]
    [InlineData("unknown option '--fast'", "--allocator", "segregated", "--fast")]
    [InlineData("--min-seconds needs a number of seconds in [0, 3600], not 'soon'", "--allocator", "segregated", "--min-seconds", "soon")]
    [InlineData("--traces needs a value", "--allocator", "segregated", "--traces")]
    public void Usage_errors_exit_2(string message, params string[] args)
    {
        var (exitCode, _, stderr) = MallocLab(args);

        Assert.Equal(2, exitCode);
        Assert.StartsWith($"malloc-lab: {message}\nusage: workbook malloc-lab", stderr);
    }

    [Fact]
    public void An_unknown_allocator_exits_2_with_the_ones_found()
    {
        var (exitCode, _, stderr) = MallocLab("--allocator", "tcmalloc");

        Assert.Equal(2, exitCode);
        Assert.StartsWith("malloc-lab: no allocator named 'tcmalloc'; give --allocator one of the names in the first column:", stderr);
        Assert.Matches(@"\n  segregated +.+ \(Lessons\.Heap\.SegregatedListAllocator, Lessons\.dll\)\n", stderr);
        // A reference class names several policies, so only the names select them; a student's class selects itself.
        Assert.Equal(2, MallocLab("--allocator", "SegregatedListAllocator").ExitCode);
        Assert.Equal(0, MallocLab("--allocator", "StudentAllocator", "--traces", EdgesTrace(), "--min-seconds", "0").ExitCode);
    }

    static string EdgesTrace() => Path.Combine(Repository.FindRoot()!, "assets", "traces", "edges.rep");

    [Fact]
    public void A_run_prints_its_parameters_a_row_per_trace_and_the_totals()
    {
        using var temp = new TempFolder();
        TraceGenerator.Tiny(seed: 3, ops: 200).Save(temp.File("tiny.rep"));
        TraceGenerator.Coalescing(rounds: 20, size: 100).Save(temp.File("coalescing.rep"));

        var (exitCode, stdout, stderr) = MallocLab("--allocator", "segregated", "--traces", temp.Path, "--min-seconds", "0");

        Assert.True(exitCode == 0, stderr);
        Assert.Contains("allocator:   segregated", stdout);
        Assert.Contains("min-seconds: 0 per trace and allocator", stdout);
        Assert.Contains("best:        the bound no allocator can pass", stdout);
        Assert.Matches(@"\ntrace +ops +valid +util +best +ops/s +libc ops/s +score\n", stdout);
        Assert.Matches(@"\ncoalescing\.rep +120 +yes +\d+% +96% ", stdout);
        Assert.Matches(@"\ntiny\.rep +200 +yes +\d+% +\d+% ", stdout);
        Assert.Matches(@"\naverage / total +320 +2/2 ", stdout);
        Assert.Matches(@"\nbest possible average score on these traces: \d+\.\d", stdout);
    }

    [Fact]
    public void A_malformed_trace_exits_1_naming_its_line()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("bad.rep"), "100\n1\n2\n1\na 0 10\nx 0\n");

        var (exitCode, _, stderr) = MallocLab("--allocator", "first-fit", "--traces", temp.File("bad.rep"));

        Assert.Equal(1, exitCode);
        Assert.Matches(@"^malloc-lab: .*bad\.rep:6: ", stderr);
    }

    [Fact]
    public void Write_traces_regenerates_the_bundled_traces_byte_for_byte()
    {
        using var temp = new TempFolder();
        string bundled = Path.Combine(Repository.FindRoot()!, "assets", "traces");

        var (exitCode, stdout, _) = MallocLab("--write-traces", temp.Path);

        Assert.Equal(0, exitCode);
        var written = Directory.GetFiles(temp.Path, "*.rep").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(Directory.GetFiles(bundled, "*.rep").Select(Path.GetFileName).Order(), written);
        foreach (string name in written!)
            Assert.Equal(File.ReadAllBytes(Path.Combine(bundled, name!)), File.ReadAllBytes(temp.File(name!)));
        Assert.Equal(written.Count, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }
}

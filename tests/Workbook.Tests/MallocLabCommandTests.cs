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
        Assert.Equal(["naive", "first-fit", "next-fit", "best-fit", "segregated", "segregated-slabs", "buddy", "headerless"], Allocators.Names);
        Assert.Matches(@"\n  student +.+ \(Exercises\.StudentAllocator, Exercises\.dll\)\n", stdout);
    }

    [Theory]
    [InlineData("--allocator NAME is required")]
    [InlineData("unknown option '--fast'", "--allocator", "segregated", "--fast")]
    [InlineData("--min-seconds needs a number of seconds in [0, 3600], not 'soon'", "--allocator", "segregated", "--min-seconds", "soon")]
    [InlineData("--traces needs a value", "--allocator", "segregated", "--traces")]
    [InlineData("--format takes auto, classic or cmu, not 'cs:app'", "--allocator", "segregated", "--format", "cs:app")]
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
        Assert.Contains("side B:      the most bytes the allocator kept outside its heap", stdout);
        Assert.Matches(@"\ntrace +ops +valid +util +best +side B +ops/s +libc ops/s +score\n", stdout);
        Assert.Matches(@"\ncoalescing\.rep +120 +yes +\d+% +96% +[1-9][\d,]* ", stdout); // segregated's list heads and live bitmap
        Assert.Matches(@"\ntiny\.rep +200 +yes +\d+% +\d+% ", stdout);
        Assert.Matches(@"\naverage / total +320 +2/2 ", stdout);
        Assert.Matches(@"\nbest possible average score on these traces: \d+\.\d", stdout);
    }

    [Fact]
    public void Json_writes_the_averages_and_a_row_per_trace()
    {
        using var temp = new TempFolder();
        TraceGenerator.Tiny(seed: 3, ops: 200).Save(temp.File("tiny.rep"));

        var (exitCode, stdout, stderr) = MallocLab("--allocator", "segregated", "--traces", temp.Path, "--min-seconds", "0", "--json", temp.File("lab.json"));

        Assert.True(exitCode == 0, stderr);
        Assert.Contains($"wrote {temp.File("lab.json")}", stdout);
        var lab = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(temp.File("lab.json")))!;
        Assert.Equal("segregated", (string)lab["allocator"]!);
        Assert.Equal(1, (int)lab["valid_traces"]!);
        Assert.InRange((double)lab["utilization"]!, 0.01, 1);
        Assert.True((double)lab["ops_per_second"]! > 0 && (double)lab["libc_ops_per_second"]! > 0);
        Assert.InRange((double)lab["score"]!, 0.01, 100);
        Assert.Equal("tiny.rep", (string)lab["traces"]![0]!["trace"]!);
        Assert.True((long)lab["traces"]![0]!["side_bytes"]! > 0); // the list heads and the live bitmap
        Assert.Equal(2, MallocLab("--allocator", "segregated", "--json").ExitCode);
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

    // Every CMU construct: f -1, r and f of ids never allocated, a of a live id (a leak), r to 0, a line past the op count.
    const string CmuCorners = "0\n4\n8\n0\nf -1\nr 0 16\nf 1\na 2 8\na 2 24\nr 0 0\nf 2\nf 0\ntrailing\n";

    [Fact]
    public void Both_formats_replay_and_each_trace_says_which_semantics_it_got()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("corners.rep"), CmuCorners);
        TraceGenerator.Tiny(seed: 3, ops: 200).Save(temp.File("tiny.rep"));

        var (exitCode, stdout, stderr) = MallocLab("--allocator", "segregated", "--traces", temp.Path, "--min-seconds", "0");

        Assert.True(exitCode == 0, stderr);
        Assert.Contains("format:      told from each file (--format auto)", stdout);
        Assert.Matches(@"
limits:      at most 5,000,000 ops per trace and 10,000,000 in all", stdout);
        Assert.Contains("capped at 1,073,741,824: a trace whose peak payload passes the cap is out of memory", stdout);
        Assert.Matches(@"
corners\.rep +8 +yes ", stdout);
        Assert.Matches(@"
semantics:\n  corners\.rep  cmu \(line 5: 'f -1' is free\(NULL\)\)\n  tiny\.rep     classic\n", stdout);
    }

    [Fact]
    public void Format_classic_refuses_a_cmu_trace_at_its_line()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("corners.rep"), CmuCorners);

        var (exitCode, stdout, stderr) = MallocLab("--allocator", "segregated", "--traces", temp.Path, "--format", "classic", "--min-seconds", "0");

        Assert.Equal(1, exitCode);
        Assert.Matches(@"^malloc-lab: .*corners\.rep:5: 'f -1' frees id -1", stderr);
        Assert.Equal(0, MallocLab("--allocator", "segregated", "--traces", temp.Path, "--format", "cmu", "--min-seconds", "0").ExitCode);
    }

    [Theory]
    [InlineData("0\n1\n1000000\n1\na 0 1\n", "hostile.rep:3: the header says 1,000,000 ops, but a file of 20 bytes holds at most 5")]
    [InlineData("0\n1\n1\n1\na 0 1", "")]
    public void A_hostile_header_is_refused_without_harm(string text, string message)
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("hostile.rep"), text);

        var (exitCode, _, stderr) = MallocLab("--allocator", "first-fit", "--traces", temp.File("hostile.rep"), "--min-seconds", "0");

        Assert.Equal(message.Length == 0 ? 0 : 1, exitCode);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void A_trace_past_the_arena_cap_is_out_of_memory_not_a_crash()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("big.rep"), "0\n2\n4\n1\na 0 2000000000\na 1 2000000000\nf 0\nf 1\n");
        File.WriteAllText(temp.File("ids.rep"), "0 2147483647 0 1");   // 14 bytes that once killed the process

        var (exitCode, stdout, _) = MallocLab("--allocator", "first-fit", "--traces", temp.Path, "--min-seconds", "0");

        Assert.Equal(1, exitCode);
        Assert.Matches(@"\nbig\.rep +4 +no ", stdout);
        Assert.Matches(@"\nids\.rep +0 +yes ", stdout);
        Assert.Contains("\nERROR big.rep: out of memory: needs 4,000,000,000 bytes (its peak payload), cap 1,073,741,824", stdout);
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

using Lessons.Heap;
using Lessons.L03_ProgramBreak;
using Lessons.Posix;

namespace Lessons.Tests.Heap;

/// <summary>What a <see cref="BumpAllocator"/> does wrong on purpose.</summary>
public enum Bug { None, Overlap, Misaligned, ReallocLosesData, OutOfBounds, ScribblesOnFree, Throws, NullForLarge }

/// <summary>
/// The simplest correct allocator for the driver's tests: every block gets a 16-byte header (its size) and a fresh
/// piece of the break; free does nothing; realloc allocates, copies and frees. A <see cref="Bug"/> breaks it on purpose.
/// </summary>
public sealed class BumpAllocator(SimulatedBreak heap, Bug bug = Bug.None) : IAllocator
{
    const int Header = 16;
    nint previous;

    public string Name => bug == Bug.None ? "bump" : $"bump-{bug}";

    public nint Malloc(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0) return 0;
        if (bug == Bug.NullForLarge && size > 1000) return 0;
        long total = Header + (size + 15) / 16 * 16;
        if (heap.Size + total > heap.MaxSize) return 0;
        if (bug == Bug.OutOfBounds && previous != 0) return heap.Break + Header;   // forgot to move the break
        nint p = heap.Sbrk(total) + Header;
        Write(p - 8, size);
        if (bug == Bug.Overlap && previous != 0 && size > 16)
        {
            nint q = previous;
            previous = p;
            return q;                                      // hands out the previous block again
        }
        previous = p;
        return bug == Bug.Misaligned ? p + 8 : p;
    }

    public nint Calloc(long count, long size)
    {
        long total;
        try { total = checked(count * size); } catch (OverflowException) { return 0; }
        nint p = Malloc(total);
        if (p != 0) unsafe { new Span<byte>((void*)p, (int)total).Clear(); }
        return p;
    }

    public nint Realloc(nint pointer, long size)
    {
        if (pointer == 0) return Malloc(size);
        if (size == 0) { Free(pointer); return 0; }
        if (bug == Bug.Throws) throw new InvalidOperationException("realloc is not implemented");
        nint p = Malloc(size);
        if (p == 0) return 0;
        long old = Read(pointer - 8);
        if (bug != Bug.ReallocLosesData)
            unsafe { new Span<byte>((void*)pointer, (int)Math.Min(old, size)).CopyTo(new Span<byte>((void*)p, (int)size)); }
        FreeCore(pointer);
        return p;
    }

    public void Free(nint pointer)
    {
        if (pointer == 0) return;
        if (bug == Bug.ScribblesOnFree && previous != 0 && previous != pointer)
            Write(previous, 0x0BADF00D);                     // "links" the freed block into a list... inside a live payload
        FreeCore(pointer);
    }

    static void FreeCore(nint pointer) { }

    static unsafe void Write(nint at, long value) => *(long*)at = value;

    static unsafe long Read(nint at) => *(long*)at;
}

public class MallocLabTests
{
    static readonly MallocLabOptions Quick = new() { MinSeconds = 0, MaxReplays = 2, WarmUpSeconds = 0.001 };

    static Trace Mixed => Trace.Parse("100\n4\n10\n1\na 0 24\na 1 100\nr 0 200\na 2 0\nr 1 50\nf 2\na 3 2000\nf 0\nf 1\nf 3\n", "mixed.rep");

    static CheckResult Check(Trace trace, Bug bug)
    {
        using var heap = new SimulatedBreak(1 << 20);
        return MallocLab.Check(trace, new BumpAllocator(heap, bug), heap);
    }

    [Fact]
    public void ACorrectAllocatorIsValidAndScoresBetween0And100()
    {
        var r = MallocLab.Run(Mixed, h => new BumpAllocator(h), Quick);
        Assert.True(r.Valid, r.Error);
        Assert.Null(r.Error);
        Assert.InRange(r.Utilization!.Value, 0.01, 1);
        Assert.InRange(r.Score!.Value, 0, 100);
        Assert.True(r.OpsPerSecond > 0);
        Assert.True(r.LibcOpsPerSecond > 0);
        Assert.InRange(r.Replays, 1, 2);
    }

    [Fact]
    public void UtilizationIsPeakPayloadOverTheHeapsHighWaterMark()
    {
        // One 32-byte block: the bump allocator uses 16 header + 32 payload bytes.
        using var heap = new SimulatedBreak(1 << 20);
        var c = MallocLab.Check(Trace.Parse("0\n1\n2\n1\na 0 32\nf 0\n"), new BumpAllocator(heap), heap);
        Assert.True(c.Valid);
        Assert.Equal(32, c.PeakPayload);
        Assert.Equal(48, c.HeapBytes);
        Assert.Equal(32.0 / 48, c.Utilization!.Value, 6);
    }

    [Theory]
    [InlineData(Bug.Overlap, 1, 6, "overlaps block 0's payload")]
    [InlineData(Bug.Misaligned, 0, 5, "which is not aligned to 16 bytes (it is 8 past a multiple)")]
    [InlineData(Bug.ReallocLosesData, 2, 7, "lost the old contents: byte 0 of the 24 that must be kept differs")]
    [InlineData(Bug.OutOfBounds, 1, 6, "which lies outside the heap")]
    [InlineData(Bug.ScribblesOnFree, 9, 14, "block 3's payload")]
    [InlineData(Bug.Throws, 2, 7, "threw InvalidOperationException: realloc is not implemented")]
    [InlineData(Bug.NullForLarge, 6, 11, "malloc(2000) returned NULL")]
    public void EachKindOfBugIsCaughtAtItsOp(Bug bug, int op, int line, string message)
    {
        var c = Check(Mixed, bug);
        Assert.False(c.Valid);
        Assert.Equal(op, c.OpIndex);
        Assert.Equal(line, c.Line);
        Assert.Contains(message, c.Error);
        Assert.StartsWith($"op {op} (line {line}, '{Mixed.Ops[op]}'): ", c.Error);
    }

    [Theory]
    [InlineData(Bug.Overlap)]
    [InlineData(Bug.Misaligned)]
    [InlineData(Bug.ReallocLosesData)]
    [InlineData(Bug.OutOfBounds)]
    [InlineData(Bug.ScribblesOnFree)]
    [InlineData(Bug.Throws)]
    public void ABuggyAllocatorScoresZeroWithTheFirstErrorNamed(Bug bug)
    {
        var report = MallocLab.Run([Mixed], h => new BumpAllocator(h, bug), Quick);
        var r = Assert.Single(report.Results);
        Assert.False(r.Valid);
        Assert.Equal(0, r.Score);
        var alone = Check(Mixed, bug);
        Assert.StartsWith($"op {alone.OpIndex} (line {alone.Line}, ", r.Error);
        Assert.False(report.AllValid);
        Assert.Contains($"ERROR mixed.rep: {r.Error}", report.ToString());
    }

    [Fact]
    public void AConstructorThatThrowsIsAnInvalidTraceNotACrash()
    {
        var r = MallocLab.Run(Mixed, _ => throw new NotImplementedException("Exercise 05.1"), Quick);
        Assert.False(r.Valid);
        Assert.Contains("creating the allocator threw NotImplementedException: Exercise 05.1", r.Error);
    }

    [Fact]
    public void LibcPassesTheChecksWithoutAHeapSize()
    {
        var c = MallocLab.Check(Mixed, new LibcAllocator(), null);
        Assert.True(c.Valid, c.Error);
        Assert.Null(c.Utilization);
        var report = MallocLab.RunLibc([Mixed], Quick);
        Assert.True(report.AllValid);
        Assert.Null(report.AverageScore);
        Assert.Equal("libc", report.Allocator);
        Assert.Contains("mixed.rep", report.ToString());
    }

    [Fact]
    public void TheReportHasTheParametersATableAndTotals()
    {
        var report = MallocLab.Run([Mixed, Trace.Parse("0\n1\n2\n1\na 0 64\nf 0\n", "one.rep")], h => new BumpAllocator(h), Quick);
        Assert.Equal("bump", report.Allocator);
        Assert.True(report.AllValid);
        Assert.InRange(report.AverageScore!.Value, 0, 100);
        var text = report.ToString();
        Assert.Contains("allocator: bump", text);
        Assert.Contains("parameters: min seconds per trace 0", text);
        Assert.Contains("average / total", text);
        Assert.Contains("2/2", text);
    }

    [Fact]
    public void TheBoundIsPeakPayloadOverTheLiveSizesRoundedUpAtTheFullestMoment()
    {
        // 1 + 17 bytes live at once; aligned, they span at least 16 + 17 bytes (the last block need not be padded).
        var t = Trace.Parse("0\n2\n4\n1\na 0 1\na 1 17\nf 0\nf 1\n");
        Assert.Equal(18.0 / 33, t.UtilizationBound(), 6);
        Assert.Equal(18.0 / 25, t.UtilizationBound(alignment: 8), 6);
        Assert.Equal(1, t.UtilizationBound(alignment: 1));
        // The fullest moment need not be the payload's peak: 20 × 1 byte live needs 304 bytes, 300 bytes later need 300.
        var ops = string.Join("\n", Enumerable.Range(0, 20).Select(i => $"a {i} 1").Concat(Enumerable.Range(0, 20).Select(i => $"f {i}")));
        var u = Trace.Parse($"0\n21\n42\n1\n{ops}\na 20 300\nf 20\n");
        Assert.Equal(300, u.PeakPayload);
        Assert.Equal(300.0 / (20 * 16 - 15), u.UtilizationBound(), 6);
        Assert.Equal(1, Trace.Parse("0\n1\n2\n1\na 0 0\nf 0\n").UtilizationBound()); // nothing live: nothing to waste
        Assert.Throws<ArgumentOutOfRangeException>(() => t.UtilizationBound(alignment: 0));
    }

    public static TheoryData<string> ReferenceAllocators => [.. Allocators.Names];

    [Theory]
    [MemberData(nameof(ReferenceAllocators))]
    public void NoReferenceAllocatorPassesTheBoundOnAnyBundledTrace(string allocator)
    {
        foreach (var trace in TraceGenerator.Bundled())
        {
            using var heap = new SimulatedBreak(new MallocLabOptions().ArenaBytes(trace));
            var c = MallocLab.Check(trace, Allocators.Create(allocator, heap), heap);
            Assert.True(c.Valid, c.Error);
            double bound = trace.UtilizationBound();
            Assert.True(c.Utilization <= bound, $"{allocator} on {trace.Name}: utilization {c.Utilization:P2} > bound {bound:P2}");
        }
    }

    [Fact]
    public void Side_by_side_reports_share_libcs_figures_keep_the_order_and_a_broken_allocator_stays_invalid()
    {
        var traces = new[] { TraceGenerator.Binary(pairs: 50, small: 16, large: 112), TraceGenerator.ReallocHeavy(seed: 5, steps: 50) };
        var reports = MallocLab.RunSideBySide(traces,
            [h => new BumpAllocator(h), h => new BumpAllocator(h, Bug.Throws), h => Allocators.Create("segregated", h)], Quick, rounds: 3);
        Assert.Equal(["bump", "bump-Throws", "segregated"], reports.Select(r => r.Allocator));
        for (int i = 0; i < traces.Length; i++)
        {
            Assert.Single(reports.Select(r => r.Results[i].LibcOpsPerSecond).Distinct());
            Assert.True(reports[0].Results[i].Valid && reports[2].Results[i].Valid);
            Assert.Equal(3, reports[2].Results[i].Replays); // Quick (0 s per timing): one replay a round
        }
        Assert.True(reports[1].Results[0].Valid); // no realloc in a binary trace
        Assert.False(reports[1].Results[1].Valid);
        Assert.Contains("threw InvalidOperationException", reports[1].Results[1].Error);
        Assert.All(reports[2].Results, r => Assert.Equal(100 * (0.6 * r.Utilization!.Value + 0.4 * Math.Min(1, r.OpsPerSecond / r.LibcOpsPerSecond)), r.Score!.Value, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => MallocLab.RunSideBySide(traces, [h => new BumpAllocator(h)], Quick, rounds: 0));
    }

    [Fact]
    public void TheTableShowsTheBoundAndTheBestPossibleScore()
    {
        var one = Trace.Parse("0\n2\n4\n1\na 0 1\na 1 17\nf 0\nf 1\n", "one.rep");
        var report = MallocLab.Run([one], h => new BumpAllocator(h), Quick);
        var r = Assert.Single(report.Results);
        Assert.Equal(18.0 / 33, r.UtilizationBound!.Value, 6);
        Assert.Equal(18.0 / 33, report.AverageUtilizationBound!.Value, 6);
        var text = report.ToString();
        Assert.Matches(@"trace +ops +valid +util +best +side B +ops/s", text);
        Assert.Matches(@"one\.rep +4 +yes +\d+% +55% +0 ", text); // a bump allocator keeps nothing beside its heap
        Assert.Contains($"best possible average score on these traces: {100 * (0.6 * 18 / 33 + 0.4):F1}", text);
        Assert.DoesNotContain("best possible", MallocLab.RunLibc([one], Quick).ToString()); // libc has no score
    }

    [Fact]
    public void AnAllocatorThatFailsDuringTheWarmUpIsStillReportedByTheCheckingPass()
    {
        var report = MallocLab.Run([Mixed], h => new BumpAllocator(h, Bug.Throws), Quick with { WarmUpSeconds = 0.05 });
        Assert.False(Assert.Single(report.Results).Valid);
        Assert.Contains("threw InvalidOperationException: realloc is not implemented", report.Results[0].Error);
    }

    [Fact]
    public void ArenaIsAtLeast64MiBOrFourTimesTheHint()
    {
        var o = new MallocLabOptions();
        Assert.Equal(64L << 20, o.ArenaBytes(Mixed));
        Assert.Equal(400L << 20, o.ArenaBytes(Trace.Parse($"{100L << 20}\n1\n1\n1\na 0 1\n")));
    }

    [Fact]
    public void LoadTracesTakesDirectoriesAndFiles()
    {
        string dir = Directory.CreateTempSubdirectory("malloclab-tests-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "b.rep"), Mixed.ToText());
            File.WriteAllText(Path.Combine(dir, "a.rep"), "0\n1\n2\n1\na 0 64\nf 0\n");
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "not a trace");
            Assert.Equal(["a.rep", "b.rep"], MallocLab.LoadTraces(dir).Select(t => t.Name));
            Assert.Equal(["b.rep"], MallocLab.LoadTraces(Path.Combine(dir, "b.rep")).Select(t => t.Name));
            Assert.Throws<FileNotFoundException>(() => MallocLab.LoadTraces(Path.Combine(dir, "missing.rep")));
        }
        finally { Directory.Delete(dir, true); }
    }
}

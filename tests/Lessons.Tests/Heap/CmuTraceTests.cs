using Lessons.Heap;

namespace Lessons.Tests.Heap;

/// <summary>CMU 15-213 (Autolab mdriver) traces: header weight, ids, ops, ignore-ranges, and mdriver's looser ops.</summary>
public class CmuTraceTests
{
    // Every CMU construct: f -1, r and f of ids never allocated, a of a live id (leak), r to 0 then r of the NULL, a trailing line.
    internal const string Corners = "1\n6\n9\n0\nf -1\nr 0 16\nf 1\na 2 8\na 2 24\nr 0 0\nr 0 32\nf 2\nf 0\nthis line is past the op count\n";

    [Fact]
    public void EveryCmuConstructParsesWithMdriversMeaning()
    {
        var t = Trace.Parse(Corners, "corners.rep");

        Assert.Equal(TraceFormat.Cmu, t.Format);
        Assert.Equal("line 5: 'f -1' is free(NULL)", t.FormatReason);
        Assert.Equal("cmu (line 5: 'f -1' is free(NULL))", t.FormatDescription);
        Assert.Equal((1, 6, 0, 0L), (t.Weight, t.IdCount, t.IgnoreRanges, t.HeapSizeHint));
        Assert.Equal(9, t.Ops.Count);
        Assert.Equal(new TraceOp(TraceOpKind.Free, -1, 0, 5), t.Ops[0]);
        // Live payload: 16, 16, 24, 48 (the 8-byte block is leaked), 32, 64, 40, 8: the leak counts to the end.
        Assert.Equal(64, t.PeakPayload);
        // Slot 0 is NULL: f -1 and f 1 (never allocated) free it; the leak moved id 2 to a fresh slot.
        Assert.Equal(
            new (TraceOpKind, int)[] { (TraceOpKind.Free, 0), (TraceOpKind.Realloc, 1), (TraceOpKind.Free, 0), (TraceOpKind.Alloc, 2), (TraceOpKind.Alloc, 3),
             (TraceOpKind.Realloc, 1), (TraceOpKind.Realloc, 1), (TraceOpKind.Free, 3), (TraceOpKind.Free, 1) },
            t.ReplaySpan.ToArray().Select(o => (o.Kind, o.Slot)));
        Assert.Equal(4, t.SlotCount);
    }

    [Theory]
    [InlineData("1\n2\n2\n0\nr 0 16\nf 0\n", "line 5: 'r 0 16' reallocates id 0, never allocated: realloc(NULL, 16)")]
    [InlineData("0\n2\n1\n0\nf 1\n", "line 5: 'f 1' frees id 1, never allocated: free(NULL)")]
    [InlineData("0\n1\n3\n1\na 0 8\na 0 16\nf 0\n", "line 6: 'a 0 16' allocates id 0 while its block of line 5 is live: that block is leaked (stays allocated)")]
    [InlineData("0\n1\n2\n0\na 0 8\nf 0\nf 0\n", "line 7: lines past the header's 2 ops are ignored")]
    [InlineData("3\n1\n2\n1\na 0 8\nf 0\n\n\nq garbage\n", "line 9: lines past the header's 2 ops are ignored")]
    public void TheFirstLineClassicRefusesIsWhyCmuWasChosen(string text, string reason)
    {
        var t = Trace.Parse(text, "t.rep");
        Assert.Equal(TraceFormat.Cmu, t.Format);
        Assert.Equal(reason, t.FormatReason);
    }

    [Fact]
    public void AFileValidAsBothIsClassicAndReplaysTheSameAsCmu()
    {
        const string text = "1\n3\n5\n0\na 0 8\na 1 16\nr 0 24\nf 1\nf 0\n";
        var auto = Trace.Parse(text);
        var cmu = Trace.Parse(text, format: TraceFormat.Cmu);

        Assert.Equal(TraceFormat.Classic, auto.Format);
        Assert.Equal("classic (its header reads as CMU too: the same calls either way)", auto.FormatDescription);
        Assert.Equal((1L, 0), (auto.HeapSizeHint, auto.Weight));
        Assert.Equal(TraceFormat.Cmu, cmu.Format);
        Assert.Equal("--format cmu", cmu.FormatReason);
        Assert.Equal((0L, 1), (cmu.HeapSizeHint, cmu.Weight));
        Assert.Equal(auto.ReplaySpan.ToArray(), cmu.ReplaySpan.ToArray());
        Assert.Equal(auto.PeakPayload, cmu.PeakPayload);
        Assert.Equal(new MallocLabOptions().ArenaBytes(auto), new MallocLabOptions().ArenaBytes(cmu));
        // A classic header (hint 20000) is not a CMU one: the same ops are plain classic.
        Assert.Equal("classic", Trace.Parse("20000" + text[1..]).FormatDescription);
    }

    [Fact]
    public void FormatClassicRefusesCmuConstructs()
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace.Parse(Corners, "corners.rep", TraceFormat.Classic));
        Assert.Equal(5, e.Line);
        Assert.Equal("'f -1' frees id -1: the header says 6 ids (0..5) (only CMU traces use -1, for NULL)", e.Problem);
        Assert.Equal("classic (--format classic)", Trace.Parse("1\n1\n2\n0\na 0 8\nf 0\n", format: TraceFormat.Classic).FormatDescription);
    }

    [Theory]
    // Refused under both: what the Autolab mdriver leaves undefined, and plain malformed lines.
    [InlineData("0\n2\n1\n0\na -1 8\n", 5, "id -1 is out of range: the header says 2 ids (0..1); only 'f -1' (free(NULL), in CMU traces) may name -1")]
    [InlineData("0\n2\n1\n0\nr -1 8\n", 5, "id -1 is out of range")]
    [InlineData("0\n2\n1\n0\nf -2\n", 5, "id -2 is out of range")]
    [InlineData("0\n2\n3\n0\na 0 8\nf 0\nf 0\n", 7, "'f 0' frees id 0, which is not allocated: it was freed at line 6 (mdriver would pass free a dangling pointer)")]
    [InlineData("0\n2\n3\n0\na 0 8\nf 0\nr 0 4\n", 7, "'r 0 4' reallocates id 0, which is not allocated: it was freed at line 6")]
    [InlineData("0\n2\n1\n0\na 2 8\n", 5, "id 2 is out of range: the header says 2 ids (0..1)")]
    [InlineData("0\n2\n1\n0\na 0\n", 5, "'a id size' needs 2 numbers after the op, found 1")]
    [InlineData("0\n2\n1\n0\na 0 x\n", 5, "the size must be a whole number, not 'x'")]
    [InlineData("0\n2\n1\n0\nm 0 8\n", 5, "unknown op 'm'")]
    [InlineData("0\n2\n3\n0\nf -1\na 0 8\n", 6, "the file ends after 2 ops, but the header says 3 (truncated?)")]
    public void MalformedCmuTracesAreRefusedWithTheirLine(string text, int line, string message)
    {
        foreach (TraceFormat? format in new TraceFormat?[] { null, TraceFormat.Cmu })
        {
            var e = Assert.Throws<TraceFormatException>(() => Trace.Parse(text, "bad.rep", format));
            Assert.Equal(line, e.Line);
            Assert.Contains(message, e.Problem);
        }
    }

    [Fact]
    public void AnErrorAfterACmuConstructSaysWhyTheFileWasReadAsCmu()
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace.Parse("0\n2\n3\n0\nf -1\na 0 8\na 0\n", "bad.rep"));
        Assert.Equal(7, e.Line);
        Assert.Contains("'a id size' needs 2 numbers", e.Problem);
        e = Assert.Throws<TraceFormatException>(() => Trace.Parse("0\n2\n4\n0\nf -1\na 0 8\nf 0\nf 0\n", "bad.rep"));
        Assert.Equal(8, e.Line);
        Assert.EndsWith("(read as a CMU trace because of line 5: 'f -1' is free(NULL))", e.Problem);
    }

    [Theory]
    [InlineData("20000\n2\n1\n1\nf -1\n", 1, "its first number, 20000, is not a weight 0..3")]
    [InlineData("1\n2\n1\n7\nf -1\n", 4, "its fourth number, 7, is not an ignore-ranges 0 or 1")]
    public void CmuConstructsUnderAHeaderThatIsNotCmuAreRefused(string text, int headerLine, string why)
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace.Parse(text, "bad.rep"));
        Assert.Equal(5, e.Line);
        Assert.EndsWith($"(CMU traces allow this, but this header is not a CMU one: {why})", e.Problem);
        e = Assert.Throws<TraceFormatException>(() => Trace.Parse(text, "bad.rep", TraceFormat.Cmu));
        Assert.Equal(headerLine, e.Line);
        Assert.Equal($"not a CMU header (weight 0..3, ids, ops, ignore-ranges 0 or 1): {why}", e.Problem);
    }

    [Fact]
    public void ACmuTraceBuiltInCodeSavesInCmuOrder()
    {
        var t = Trace.Create("made.rep", [TraceOp.Free(-1), TraceOp.Realloc(0, 16), TraceOp.Free(0)], idCount: 1, weight: 2, format: TraceFormat.Cmu);
        Assert.Equal("2\n1\n3\n0\nf -1\nr 0 16\nf 0\n", t.ToText());
        Assert.Equal("line 5: 'f -1' is free(NULL)", t.FormatReason);
        var back = Trace.Parse(t.ToText(), "made.rep", TraceFormat.Cmu);
        Assert.Equal(t.Ops, back.Ops);
        Assert.Equal(t.ReplaySpan.ToArray(), back.ReplaySpan.ToArray());
        Assert.Throws<TraceFormatException>(() => Trace.Create("made.rep", [TraceOp.Free(-1)], idCount: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Trace.Create("made.rep", [], weight: 4, format: TraceFormat.Cmu));
    }
}

/// <summary>Traces whose header or sizes would make a careless driver allocate without bound.</summary>
public class HostileTraceTests
{
    static readonly MallocLabOptions Quick = new() { MinSeconds = 0, MaxReplays = 1, WarmUpSeconds = 0 };

    [Fact]
    public void AHugeIdCountCostsNothing()
    {
        // 14 bytes; once a bool[2147483647] that killed the process ("Out of memory.").
        var empty = Trace.Parse("0 2147483647 0 1", "ids.rep");
        Assert.Equal(int.MaxValue, empty.IdCount);
        Assert.Equal(1, empty.SlotCount);
        Assert.True(MallocLab.Run(empty, h => new BumpAllocator(h), Quick).Valid);

        // Ids far apart get slots in the order they appear.
        var far = Trace.Parse("0 2000000000 3 1\na 1999999999 8\nf 1999999999\nf 5\n", "far.rep");
        Assert.Equal(2, far.SlotCount);
        var r = MallocLab.Run(far, h => new BumpAllocator(h), Quick);
        Assert.True(r.Valid, r.Error);
    }

    [Theory]
    [InlineData("0\n1\n1000\n1\na 0 1\n", "the header says 1,000 ops, but a file of 17 bytes holds at most 4 (an op takes at least 4 bytes")]
    [InlineData("0\n1\n99999999999\n1\n", "99,999,999,999 ops are more than this driver handles (5,000,000)")]
    [InlineData("0\n99999999999\n0\n1\n", "99999999999 ids are more than this driver handles (2147483647)")]
    [InlineData("99999999999999999999\n1\n0\n1\n", "the suggested heap size must be a whole number ≥ 0, not '99999999999999999999'")]
    public void AHeaderThatCannotBeTrueIsRefusedBeforeAnyOpIsRead(string text, string message)
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace.Parse(text, "hostile.rep"));
        Assert.Contains(message, e.Problem);
    }

    [Fact]
    public void TheOpCountIsCheckedAgainstTheFilesSizeOnDiskToo()
    {
        string path = Path.Combine(Path.GetTempPath(), $"hostile-{Guid.NewGuid():N}.rep");
        try
        {
            File.WriteAllText(path, "0 1 900000 1\na 0 1\n");
            var e = Assert.Throws<TraceFormatException>(() => Trace.Load(path));
            Assert.Equal(1, e.Line);
            Assert.Contains("a file of 19 bytes holds at most 5", e.Problem);
            File.WriteAllText(path, "0\n1\n900000\n1\na 0 1\n");
            Assert.Equal(3, Assert.Throws<TraceFormatException>(() => Trace.Load(path)).Line);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ALongLineIsRefusedWithoutReadingItWhole()
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace.Parse("0 1 1 1\na 0 " + new string(' ', 5000) + "8\n", "long.rep"));
        Assert.Equal(2, e.Line);
        Assert.Contains("longer than 4,096 characters", e.Problem);
        // 64 MB without a line end, streamed: refused at the header's line.
        var reader = new RepeatingReader('7', 64 << 20);
        e = Assert.Throws<TraceFormatException>(() => Trace.Parse(reader, "huge.rep"));
        Assert.Equal(1, e.Line);
        Assert.True(reader.Consumed < 1 << 20, $"read {reader.Consumed} characters");
    }

    [Fact]
    public void AHugeHeapHintIsClampedToTheArenaCap()
    {
        var t = Trace.Parse($"{long.MaxValue}\n1\n2\n1\na 0 8\nf 0\n", "hint.rep");
        var options = Quick with { MaxArenaBytes = 1 << 20 };
        Assert.Equal(1 << 20, options.ArenaBytes(t));
        Assert.Equal(1L << 30, new MallocLabOptions().ArenaBytes(t));
        var r = MallocLab.Run(t, h => new BumpAllocator(h), options);
        Assert.True(r.Valid, r.Error);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SimulatedBreak(long.MaxValue));
    }

    [Fact]
    public void APeakPayloadPastTheArenaCapIsOutOfMemoryAndNotReplayed()
    {
        // 4 × 2,000,000,000 bytes live: neither the allocator nor libc is called.
        var t = Trace.Parse("0\n4\n8\n1\na 0 2000000000\na 1 2000000000\na 2 2000000000\na 3 2000000000\nf 0\nf 1\nf 2\nf 3\n", "big.rep");
        Assert.Equal(8_000_000_000, t.PeakPayload);
        int created = 0;
        var r = MallocLab.Run(t, h => { created++; return new BumpAllocator(h); }, Quick);
        Assert.False(r.Valid);
        Assert.Equal("out of memory: needs 8,000,000,000 bytes (its peak payload), cap 1,073,741,824 (the largest arena); not replayed", r.Error);
        Assert.Equal(0, created);
        var libc = MallocLab.RunLibc([t], Quick with { WarmUpSeconds = 0.01 });
        Assert.False(libc.Results[0].Valid);
        Assert.StartsWith("out of memory: needs 8,000,000,000 bytes", libc.Results[0].Error);
        // Under the cap, a request the arena cannot hold is the allocator's NULL, reported at its op.
        var small = Quick with { MaxArenaBytes = 1 << 16, MinArenaBytes = 1 << 12 };
        var tight = Trace.Parse("0\n2\n4\n1\na 0 40000\nf 0\na 1 40000\nf 1\n", "tight.rep");
        var oom = MallocLab.Run(tight, h => new BumpAllocator(h), small);
        Assert.False(oom.Valid);
        Assert.Contains("malloc(40000) returned NULL (out of memory?", oom.Error);
    }

    [Fact]
    public void TracesLoadedTogetherShareAnOpBudget()
    {
        string path = Path.Combine(Path.GetTempPath(), $"budget-{Guid.NewGuid():N}.rep");
        try
        {
            File.WriteAllText(path, "0\n1\n4\n1\na 0 1\nf 0\na 0 2\nf 0\n");
            var e = Assert.Throws<TraceFormatException>(() => Trace.Load(path, null, maxOps: 3));
            Assert.Contains($"4 ops are more than this driver handles (3: at most {MallocLab.MaxTotalOps:N0} in all traces, and those before this one hold {MallocLab.MaxTotalOps - 3:N0})", e.Problem);
            Assert.Equal(4, Trace.Load(path, null, maxOps: 4).Ops.Count);
        }
        finally { File.Delete(path); }
    }

    /// <summary>A reader of <paramref name="count"/> copies of one character, counting what was read.</summary>
    sealed class RepeatingReader(char c, long count) : TextReader
    {
        public long Consumed { get; private set; }

        public override int Read(char[] buffer, int index, int length)
        {
            int n = (int)Math.Min(length, count - Consumed);
            buffer.AsSpan(index, n).Fill(c);
            Consumed += n;
            return n;
        }

        public override int Read()
        {
            if (Consumed == count) return -1;
            Consumed++;
            return c;
        }
    }
}

/// <summary>What the allocator sees when a CMU trace is replayed: exactly the Autolab mdriver's calls.</summary>
public class CmuReplayTests
{
    /// <summary>Logs every call (NULL as 0, other pointers by the call that returned them) and passes it on.</summary>
    sealed class RecordingAllocator(IAllocator inner) : IAllocator
    {
        readonly Dictionary<nint, string> names = [];
        public List<string> Calls { get; } = [];

        public string Name => "recording";

        string Of(nint p) => p == 0 ? "0" : names.GetValueOrDefault(p, "?");

        nint Named(nint p, string call)
        {
            if (p != 0) names[p] = $"#{Calls.Count}";
            Calls.Add(call);
            return p;
        }

        public nint Malloc(long size) => Named(inner.Malloc(size), $"malloc({size})");

        public nint Calloc(long count, long size) => Named(inner.Calloc(count, size), $"calloc({count}, {size})");

        public nint Realloc(nint pointer, long size)
        {
            string call = $"realloc({Of(pointer)}, {size})";
            return Named(inner.Realloc(pointer, size), call);
        }

        public void Free(nint pointer)
        {
            Calls.Add($"free({Of(pointer)})");
            inner.Free(pointer);
        }
    }

    // #n: the pointer the n-th call returned. f -1 and f 1 free NULL, r 0 16 reallocates NULL, the 8-byte block (#3) is leaked.
    static readonly string[] Expected =
        ["free(0)", "realloc(0, 16)", "free(0)", "malloc(8)", "malloc(24)", "realloc(#1, 0)", "realloc(0, 32)", "free(#4)", "free(#6)"];

    [Fact]
    public void TheCheckingPassAndEveryTimedReplayMakeMdriversCalls()
    {
        var trace = Trace.Parse(CmuTraceTests.Corners, "corners.rep");
        var recorders = new List<RecordingAllocator>();
        var options = new MallocLabOptions { MinSeconds = 60, MaxReplays = 3, WarmUpSeconds = 0.001 };

        var r = MallocLab.Run(trace, h => { var a = new RecordingAllocator(new BumpAllocator(h)); recorders.Add(a); return a; }, options);

        Assert.True(r.Valid, r.Error);
        Assert.Equal(4, recorders.Count);            // the checking pass and 3 timed replays
        Assert.All(recorders, a => Assert.Equal(Expected, a.Calls));
    }

    [Fact]
    public void TheLeakedBlockStaysLiveAndChecked()
    {
        var trace = Trace.Parse(CmuTraceTests.Corners, "corners.rep");
        using var heap = new SimulatedBreak(1 << 20);
        var c = MallocLab.Check(trace, new BumpAllocator(heap), heap);
        Assert.True(c.Valid, c.Error);
        Assert.Equal(64, c.PeakPayload);

        // The leaked block is still live: handing it out again is an overlap.
        heap.Reset();
        var leak = Trace.Parse("0\n1\n3\n0\na 0 32\na 0 32\nf 0\n", "leak.rep");
        var bad = MallocLab.Check(leak, new BumpAllocator(heap, Bug.Overlap), heap);
        Assert.False(bad.Valid);
        Assert.Equal(6, bad.Line);
        Assert.Contains("overlaps block 0's payload", bad.Error);
    }

    [Fact]
    public void ACallThatThrowsIsNamedWithThePointerItWasGiven()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var c = MallocLab.Check(Trace.Parse("0\n1\n2\n1\na 0 24\nr 0 200\n"), new BumpAllocator(heap, Bug.Throws), heap);
        Assert.Matches(@"^op 1 \(line 6, 'r 0 200'\): realloc\(0x[0-9a-f]+, 200\) threw InvalidOperationException", c.Error);
        var n = MallocLab.Check(Trace.Parse("0\n1\n2\n0\nf -1\nr 0 200\n"), new BumpAllocator(heap, Bug.Throws), heap);
        Assert.True(n.Valid, n.Error);   // realloc(NULL, n) is malloc: the bug is not reached
    }

    [Fact]
    public void LibcReplaysCmuTracesToo()
    {
        var report = MallocLab.RunLibc([Trace.Parse(CmuTraceTests.Corners, "corners.rep")], new MallocLabOptions { MinSeconds = 0, MaxReplays = 2, WarmUpSeconds = 0.001 });
        Assert.True(report.AllValid, report.Results[0].Error);
        Assert.True(report.Results[0].LibcOpsPerSecond > 0);
    }
}

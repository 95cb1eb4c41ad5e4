using Lessons.Heap;

namespace Lessons.Tests.Heap;

public class TraceTests
{
    const string Short = "20000\n3\n6\n1\na 0 512\na 1 128\nr 0 640\nf 1\na 2 0\nf 0\n";

    [Fact]
    public void ParsesHeaderAndOps()
    {
        var t = Trace.Parse(Short, "short.rep");
        Assert.Equal("short.rep", t.Name);
        Assert.Equal(20000, t.HeapSizeHint);
        Assert.Equal(3, t.IdCount);
        Assert.Equal(1, t.Weight);
        Assert.Equal(6, t.Ops.Count);
        Assert.Equal(new TraceOp(TraceOpKind.Alloc, 0, 512, 5), t.Ops[0]);
        Assert.Equal(new TraceOp(TraceOpKind.Realloc, 0, 640, 7), t.Ops[2]);
        Assert.Equal(new TraceOp(TraceOpKind.Free, 1, 0, 8), t.Ops[3]);
        Assert.Equal(640 + 128, t.PeakPayload);
    }

    [Fact]
    public void ToleratesWhatMdriverTolerates()
    {
        // CR LF, blank lines, tabs and extra spaces, the header on one line, no final newline.
        var t = Trace.Parse("1 2  3\t0\r\n\r\n  a 0 16 \r\n\n\ta\t1\t0\r\nf   0", "odd.rep");
        Assert.Equal(3, t.Ops.Count);
        Assert.Equal(new TraceOp(TraceOpKind.Alloc, 1, 0, 5), t.Ops[1]);
        Assert.Equal(new TraceOp(TraceOpKind.Free, 0, 0, 6), t.Ops[2]);
        Assert.Equal(0, t.Weight);
    }

    [Fact]
    public void SizeZeroAndReallocToZeroLeaveTheIdAllocated()
    {
        var t = Trace.Parse("0\n2\n6\n1\na 0 0\nr 0 32\nr 0 0\nf 0\na 1 8\nr 1 0\n");
        Assert.Equal(6, t.Ops.Count);
        Assert.Equal(32, t.PeakPayload);
    }

    [Fact]
    public void AnIdMayBeReusedAfterItIsFreedAndIdsNeedNotAllBeUsed()
    {
        var t = Trace.Parse("0\n10\n4\n1\na 3 8\nf 3\na 3 16\nf 3\n");
        Assert.Equal(10, t.IdCount);
        Assert.Equal(16, t.PeakPayload);
    }

    [Theory]
    [InlineData("", 1, "ends before the header's the suggested heap size")]
    [InlineData("100\n2\n", 2, "ends before the header's the number of ops")]
    [InlineData("100\nx\n1\n1\na 0 1\n", 2, "the number of ids must be a whole number ≥ 0, not 'x'")]
    [InlineData("100\n-2\n1\n1\na 0 1\n", 2, "must be a whole number ≥ 0, not '-2'")]
    [InlineData("100\n2\n1\n1 a 0 1\n", 4, "after the header's 4 numbers")]
    [InlineData("100\n2\n1\n1\nm 0 1\n", 5, "unknown op 'm'")]
    [InlineData("100\n2\n1\n1\nalloc 0 1\n", 5, "unknown op 'alloc'")]
    [InlineData("100\n2\n1\n1\na 2 1\n", 5, "id 2 is out of range: the header says 2 ids (0..1)")]
    [InlineData("100\n2\n1\n1\na -1 1\n", 5, "id -1 is out of range")]
    [InlineData("100\n2\n1\n1\na 0 -5\n", 5, "size -5 is negative")]
    [InlineData("100\n2\n1\n1\na 0 9999999999\n", 5, "size 9999999999 is too large")]
    [InlineData("100\n2\n1\n1\na zero 1\n", 5, "the id must be a whole number, not 'zero'")]
    [InlineData("100\n2\n1\n1\na 0 1k\n", 5, "the size must be a whole number, not '1k'")]
    [InlineData("100\n2\n1\n1\na 0\n", 5, "'a id size' needs 2 numbers after the op, found 1")]
    [InlineData("100\n2\n1\n1\nf 0 16\n", 5, "'f id' needs 1 number after the op, found 2")]
    [InlineData("100\n2\n2\n1\na 0 1\nf 1\n", 6, "'f 1' frees id 1, which is not allocated")]
    [InlineData("100\n2\n3\n1\na 0 1\nf 0\nf 0\n", 7, "'f 0' frees id 0, which is not allocated")]
    [InlineData("100\n2\n2\n1\na 0 1\nr 1 8\n", 6, "'r 1 8' reallocates id 1, which is not allocated")]
    [InlineData("100\n2\n2\n1\na 0 1\na 0 8\n", 6, "allocates id 0, which is still allocated")]
    [InlineData("100\n2\n3\n1\na 0 1\n\nf 0\n", 7, "the file ends after 2 ops, but the header says 3 (truncated?)")]
    [InlineData("100\n2\n1\n1\na 0 1\nf 0\n", 6, "more ops than the header's 1")]
    public void MalformedTracesNameTheFileAndLine(string text, int line, string message)
    {
        var e = Assert.Throws<TraceFormatException>(() => Trace.Parse(text, "bad.rep"));
        Assert.Equal("bad.rep", e.File);
        Assert.Equal(line, e.Line);
        Assert.Contains(message, e.Problem);
        Assert.StartsWith($"bad.rep:{line}: ", e.Message);
    }

    [Fact]
    public void LoadNamesThePathInErrorsAndTheFileNameInTheTrace()
    {
        string dir = Directory.CreateTempSubdirectory("trace-tests-").FullName;
        try
        {
            string good = Path.Combine(dir, "good.rep"), bad = Path.Combine(dir, "bad.rep");
            File.WriteAllText(good, Short);
            File.WriteAllText(bad, "1\n1\n1\n1\nq 0\n");
            Assert.Equal("good.rep", Trace.Load(good).Name);
            var e = Assert.Throws<TraceFormatException>(() => Trace.Load(bad));
            Assert.Equal(bad, e.File);
            Assert.Equal(5, e.Line);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void SaveAndLoadRoundTrip()
    {
        var t = Trace.Parse(Short, "short.rep");
        Assert.Equal(Short, t.ToText());
        string path = Path.Combine(Path.GetTempPath(), $"trace-roundtrip-{Guid.NewGuid():N}.rep");
        try
        {
            t.Save(path);
            var back = Trace.Load(path);
            Assert.Equal(t.Ops, back.Ops);
            Assert.Equal(t.HeapSizeHint, back.HeapSizeHint);
            Assert.Equal(t.IdCount, back.IdCount);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void CreateChecksLikeTheParser()
    {
        var t = Trace.Create("made", [TraceOp.Alloc(0, 10), TraceOp.Realloc(0, 20), TraceOp.Free(0)]);
        Assert.Equal(1, t.IdCount);
        Assert.Equal(20, t.HeapSizeHint);
        Assert.Equal(7, t.Ops[2].Line);
        var e = Assert.Throws<TraceFormatException>(() => Trace.Create("made", [TraceOp.Alloc(0, 10), TraceOp.Free(1)]));
        Assert.Equal(6, e.Line);
        Assert.Contains("frees id 1, which is not allocated", e.Message);
    }

    [Fact]
    public void ParsesThePublicLabsShortTrace()
    {
        // The shape of CS:APP's short1.rep: heap hint 1 (not meaningful), ids, ops, weight.
        var t = Trace.Parse("1\n6\n12\n1\na 0 2040\na 1 2040\nf 1\na 2 48\na 3 4072\nf 3\na 4 4072\nf 0\nf 2\na 5 4072\nf 4\nf 5\n", "short1.rep");
        Assert.Equal(12, t.Ops.Count);
        Assert.Equal((6, 0, 6), t.Counts);
    }
}

public class BundledTraceTests
{
    static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Lessons.sln"))) return d.FullName;
        throw new InvalidOperationException($"no Lessons.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void TheBundledTracesAllParseAndAreWhatTheGeneratorMakes()
    {
        string dir = Path.Combine(Root(), "assets", "traces");
        var files = Directory.GetFiles(dir, "*.rep").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        var generated = TraceGenerator.Bundled();
        Assert.Equal(generated.Select(t => t.Name).Order(StringComparer.Ordinal), files);
        foreach (var t in generated)
        {
            var loaded = Trace.Load(Path.Combine(dir, t.Name));
            Assert.Equal(t.ToText(), File.ReadAllText(Path.Combine(dir, t.Name)));
            Assert.Equal(t.Ops.Count, loaded.Ops.Count);
        }
        Assert.True(files.Sum(f => new FileInfo(Path.Combine(dir, f!)).Length) < 1_000_000);
    }

    [Fact]
    public void TheHiddenTracesAllParse()
    {
        string dir = Path.Combine(Root(), "tests", "Exercises.Tests", "HiddenTraces");
        var traces = Directory.GetFiles(dir, "*.rep").Select(f => Trace.Load(f)).ToList();
        Assert.NotEmpty(traces);
        Assert.All(traces, t => Assert.True(t.Ops.Count > 0));
    }

    [Fact]
    public void TheSameSeedGivesTheSameTraceAndAnotherSeedAnother()
    {
        Assert.Equal(TraceGenerator.Random(5, 500).ToText(), TraceGenerator.Random(5, 500).ToText());
        Assert.NotEqual(TraceGenerator.Random(5, 500).ToText(), TraceGenerator.Random(6, 500).ToText());
        Assert.Equal("random-s5-n500.rep", TraceGenerator.Random(5, 500).Name);
    }

    [Theory]
    [InlineData(1, 300, 20, 1, 64, 0.3)]
    [InlineData(2, 1000, 5, 1000, 2000, 0)]
    [InlineData(3, 2, 1, 1, 1, 0.5)]
    public void GeneratedTracesAreBalancedAndHaveTheOpsAskedFor(int seed, int ops, int maxLive, int min, int max, double realloc)
    {
        var t = TraceGenerator.Random(seed, ops, maxLive, min, max, realloc);
        Assert.InRange(t.Ops.Count, ops - 1, ops);
        Assert.All(t.Ops.Where(o => o.Kind != TraceOpKind.Free), o => Assert.InRange(o.Size, min, max));
        var (a, _, f) = t.Counts;
        Assert.Equal(a, f);
        Assert.Equal(t.ToText(), Trace.Parse(t.ToText()).ToText());
    }
}

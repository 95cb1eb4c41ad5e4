using Lessons.Heap;
using Lessons.L05_BuildAnAllocator;

namespace Lessons.Tests.L05_BuildAnAllocator;

public class FreeListSimulatorTests
{
    [Fact]
    public void TheSameSeedGivesTheSameRunAndAnotherSeedAnother()
    {
        var o = new FreeListOptions { Seed = 7, Operations = 20 };
        Assert.Equal(FreeListSimulator.Run(o).Render(true), FreeListSimulator.Run(o).Render(true));
        Assert.NotEqual(FreeListSimulator.Run(o).Render(true), FreeListSimulator.Run(o with { Seed = 8 }).Render(true));
    }

    [Fact]
    public void PrintsEveryParameterAndHidesAnswersUntilAsked()
    {
        var run = FreeListSimulator.Run(new FreeListOptions { Seed = 3, Operations = 6 });
        string question = run.Render(answers: false), answer = run.Render(answers: true);
        foreach (var word in new[] { "seed 3", "heap size 100", "base address 1000", "policy BestFit", "coalesce no", "header size 0", "alignment 1", "ops 6 random" })
            Assert.Contains(word, question);
        Assert.Contains("returned ?", question);
        Assert.Contains("free list? ", question);
        Assert.DoesNotContain("returned ?", answer);
        Assert.Contains("free list (", answer);
        Assert.Equal(6, run.Steps.Count);
    }

    [Fact]
    public void FirstBestAndWorstFitPickDifferentRanges()
    {
        // holes of 5 (at 1000), 20 (at 1015) and 3 (at 1045), then the tail at 1060
        const string ops = "+5,+10,+20,+10,+3,+12,-0,-2,-4,+3";
        long Last(SimPolicy p) => FreeListSimulator.Run(new FreeListOptions { Policy = p, Ops = ops }).Steps[^1].Result!.Value;
        Assert.Equal(1000L, Last(SimPolicy.FirstFit));
        Assert.Equal(1045L, Last(SimPolicy.BestFit));
        Assert.Equal(1060L, Last(SimPolicy.WorstFit)); // the tail (40 bytes) is the largest
    }

    [Fact]
    public void CoalescingMergesNeighboursAndWithoutItTheListFragments()
    {
        const string ops = "+10,+10,+10,-0,-1,-2";
        var merged = FreeListSimulator.Run(new FreeListOptions { Coalesce = true, Ops = ops }).FinalFreeList;
        var split = FreeListSimulator.Run(new FreeListOptions { Coalesce = false, Ops = ops }).FinalFreeList;
        Assert.Equal([new FreeRange(1000, 100)], merged);
        Assert.Equal([new FreeRange(1000, 10), new FreeRange(1010, 10), new FreeRange(1020, 10), new FreeRange(1030, 70)], split);
    }

    [Fact]
    public void HeadersAndAlignmentShapeTheBlocksAndAFullHeapFails()
    {
        var run = FreeListSimulator.Run(new FreeListOptions { HeaderSize = 4, Alignment = 8, HeapSize = 32, Ops = "+1,+13,+9" });
        Assert.Equal(1004, run.Steps[0].Result); // block [1000, 1008): header then payload
        Assert.Equal(1012, run.Steps[1].Result); // 4 + 13 = 17 → 24 bytes: [1008, 1032)
        Assert.Equal(-1, run.Steps[2].Result);   // nothing left
        Assert.Empty(run.FinalFreeList);
        Assert.Contains("no range fits", run.Render(true));
    }

    [Fact]
    public void FreeingAPointerThatIsNotLiveChangesNothing()
    {
        var run = FreeListSimulator.Run(new FreeListOptions { Ops = "+10,-0,-0,-5" });
        Assert.Null(run.Steps[2].Result);
        Assert.Null(run.Steps[3].Result);
        Assert.Equal(run.Steps[1].FreeList, run.Steps[3].FreeList);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("+0")]
    [InlineData("+x")]
    [InlineData("-")]
    public void RefusesMalformedOps(string ops) => Assert.Throws<FormatException>(() => FreeListSimulator.Parse(ops));

    [Fact]
    public void RandomRunsNeverOverlapAndConserveBytes()
    {
        foreach (var policy in Enum.GetValues<SimPolicy>())
            for (int seed = 0; seed < 20; seed++)
            {
                var run = FreeListSimulator.Run(new FreeListOptions { Seed = seed, Policy = policy, Coalesce = seed % 2 == 0, Operations = 40, HeaderSize = 2, Alignment = 4 });
                foreach (var step in run.Steps)
                {
                    var list = step.FreeList;
                    for (int i = 1; i < list.Count; i++) Assert.True(list[i - 1].Address + list[i - 1].Size <= list[i].Address, $"seed {seed}: free ranges overlap or are unsorted");
                    Assert.All(list, r => Assert.True(r.Address >= 1000 && r.Address + r.Size <= 1100 && r.Size > 0));
                    if (step.Op.Alloc && step.Result >= 0) Assert.DoesNotContain(list, r => r.Address <= step.Result && step.Result < r.Address + r.Size);
                }
            }
    }
}

public class AllocatorDemosTests
{
    [Fact]
    public void ScenarioHasASnapshotPerOpAndReusesTheHoleOnFirstFit()
    {
        var run = AllocatorDemos.Steps("first-fit");
        Assert.Equal(AllocatorDemos.Scenario.Count + 1, run.Snapshots.Count);
        Assert.Empty(run.Snapshots[0].Blocks);
        // after free(p1), malloc(60) lands where p1 was: the break does not move
        Assert.Equal(run.Snapshots[5].Break, run.Snapshots[6].Break);
        var picture = Lessons.Tests.Plotting.ChartsTests.Json(run.Picture());
        Assert.Equal("first-fit: heap blocks after each step", (string?)picture["layout"]!["title"]!["text"]);
        Assert.Equal(run.Snapshots.Sum(s => s.Blocks.Count), picture["data"]!.AsArray().Sum(t => t!["x"]!.AsArray().Count));
    }

    [Fact]
    public void UtilizationCurveMatchesTheLabsCheckingPass()
    {
        var trace = TraceGenerator.Bundled().First(t => t.Name.StartsWith("random-s42", StringComparison.Ordinal));
        var curve = AllocatorDemos.Utilization("best-fit", trace);
        using var heap = new SimulatedBreak(new MallocLabOptions().ArenaBytes(trace));
        var check = MallocLab.Check(trace, Allocators.Create("best-fit", heap), heap);
        Assert.Equal(trace.Ops.Count, curve.HeapSize.Count);
        Assert.Equal(check.PeakPayload, curve.PeakPayload);
        Assert.Equal(check.HeapBytes, curve.PeakHeap);
        Assert.Equal(0, curve.LivePayload[^1]); // the bundled traces free everything
    }

    [Fact]
    public void ComparisonHasOneReportPerAllocator()
    {
        var traces = TraceGenerator.Bundled().Where(t => t.Ops.Count < 3000).ToList();
        var c = AllocatorDemos.Compare(traces, ["first-fit", "buddy"], minSeconds: 0);
        Assert.Equal(["first-fit", "buddy"], c.Reports.Select(r => r.Allocator));
        Assert.Contains("average utilization", c.Table());
        var bars = Lessons.Tests.Plotting.ChartsTests.Json(c.Chart())["data"]!.AsArray();
        Assert.Equal(2, bars.Count);
        Assert.All(bars, b => Assert.Equal(["first-fit", "buddy"], b!["x"]!.AsArray().Select(v => (string?)v)));
    }
}

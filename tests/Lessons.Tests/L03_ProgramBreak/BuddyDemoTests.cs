using Lessons.L03_ProgramBreak;

namespace Lessons.Tests.L03_ProgramBreak;

public class BuddyDemoTests
{
    [Fact]
    public void Strips_draw_live_and_free_blocks_as_two_traces_from_their_offsets()
    {
        using var heap = new SimulatedBreak(4096);
        var a = new BuddyAllocator(heap);
        var snapshots = new List<BuddySnapshot> { BuddyDemo.Snapshot(a, "empty") };
        nint p = a.Malloc(100);
        a.Malloc(10);
        snapshots.Add(BuddyDemo.Snapshot(a, "two"));
        a.Free(p);
        snapshots.Add(BuddyDemo.Snapshot(a, "free first"));

        var fig = BuddyDemo.Strips(snapshots);

        Assert.Equal(2, fig.Data.Count);
        var live = fig.Data[0]!.AsObject();
        Assert.Equal("h", (string?)live["orientation"]);
        Assert.Equal(["two", "two", "free first"], live["y"]!.AsArray().Select(v => (string?)v));
        Assert.Equal([0L, 128L, 128L], live["base"]!.AsArray().Select(v => (long)v!));
        Assert.Equal([0L], fig.Data[1]!["base"]!.AsArray().Select(v => (long)v!)); // the freed block; the top one is live, so the break stays
        Assert.Equal("free first", snapshots[2].Step);
        Assert.Contains("[0+128 free]", snapshots[2].ToString());
    }

    [Fact]
    public void Waste_is_the_block_minus_the_request()
    {
        var w = BuddyDemo.Waste([1, 16, 17, 112, 113]);

        Assert.Equal([32L, 32, 64, 128, 256], w.Select(x => x.BlockSize));
        Assert.Equal(143, w[^1].Wasted);
        Assert.Equal(0.5, w[1].WastedFraction);
    }
}

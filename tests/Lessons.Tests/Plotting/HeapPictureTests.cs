using Lessons.Heap;
using Lessons.Plotting;

namespace Lessons.Tests.Plotting;

public class HeapPictureTests
{
    [Fact]
    public void Strips_of_a_buddy_heap_draw_live_and_free_blocks_as_two_traces_from_their_offsets()
    {
        using var heap = new SimulatedBreak(4096);
        var a = new BuddyAllocator(heap);
        var snapshots = new List<HeapSnapshot> { HeapSnapshot.Of(a, "empty") };
        nint p = a.Malloc(100);
        a.Malloc(10);
        snapshots.Add(HeapSnapshot.Of(a, "two"));
        a.Free(p);
        snapshots.Add(HeapSnapshot.Of(a, "free first"));

        var fig = ChartsTests.Json(HeapPicture.Strips(snapshots));
        var data = fig["data"]!.AsArray();

        Assert.Equal(2, data.Count);
        var live = data[0]!.AsObject();
        Assert.Equal("h", (string?)live["orientation"]);
        Assert.Equal(["two", "two", "free first"], live["y"]!.AsArray().Select(v => (string?)v));
        Assert.Equal([0L, 128L, 128L], live["base"]!.AsArray().Select(v => (long)v!));
        Assert.Equal([0L], data[1]!["base"]!.AsArray().Select(v => (long)v!)); // the freed block; the top one is live, so the break stays
        Assert.Equal("reversed", (string?)fig["layout"]!["yaxis"]!["autorange"]);
        Assert.True((bool)fig["layout"]!["yaxis"]!["automargin"]!); // the strips' names stay readable
        Assert.Equal("overlay", (string?)fig["layout"]!["barmode"]);
        Assert.Equal("free first", snapshots[2].Step);
        Assert.Contains("[0+128 free]", snapshots[2].ToString());
    }
}

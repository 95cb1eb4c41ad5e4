using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.L03_ProgramBreak;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Tests.Heap;

/// <summary>Each check of <see cref="HeapChecker"/> fires on a heap corrupted on purpose.</summary>
public class HeapCheckerTests
{
    // A heap with allocated and free blocks: a b [free] c d [free] e, and the free blocks in their lists.
    static (SimulatedBreak Heap, IWalkableHeap A, nint[] P) Make(bool segregated)
    {
        var heap = new SimulatedBreak(1 << 16);
        IAllocator a = segregated ? new SegregatedListAllocator(heap) : new ImplicitListAllocator(heap);
        var p = new[] { 40, 100, 40, 40, 100, 40, 40 }.Select(n => a.Malloc(n)).ToArray();
        a.Free(p[1]);
        a.Free(p[4]);
        var w = (IWalkableHeap)a;
        Assert.Null(HeapChecker.Check(w));
        return (heap, w, p);
    }

    static long Header(SimulatedBreak heap, nint bp) => Marshal.ReadInt64(bp - WordSize);
    static long OffsetOf(SimulatedBreak heap, nint bp) => bp - heap.HeapLo - WordSize;

    static HeapViolation Fires(IWalkableHeap a, string words)
    {
        var v = HeapChecker.Check(a);
        Assert.NotNull(v);
        Assert.Contains(words, v.Message);
        return v;
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ABadFooterIsFound(bool segregated)
    {
        var (heap, a, p) = Make(segregated);
        using var _ = heap;
        nint bp = p[1]; // free: it has a footer in both layouts
        long size = SizeOf(Header(heap, bp));
        Marshal.WriteInt64(bp + (nint)size - 2 * WordSize, Header(heap, bp) + 16);
        Assert.Equal(OffsetOf(heap, bp), Fires(a, "disagree").Offset);
    }

    [Fact]
    public void ABadFooterOnAnAllocatedBlockIsFoundWhenTheLayoutHasThem()
    {
        var (heap, a, p) = Make(segregated: false);
        using var _ = heap;
        nint bp = p[2];
        Marshal.WriteInt64(bp + (nint)SizeOf(Header(heap, bp)) - 2 * WordSize, 0);
        Assert.Equal(OffsetOf(heap, bp), Fires(a, "disagree").Offset);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void TwoAdjacentFreeBlocksAreFound(bool segregated)
    {
        var (heap, a, p) = Make(segregated);
        using var _ = heap;
        nint bp = p[2]; // allocated, after the free p[1]: mark it free without merging
        long w = Header(heap, bp), size = SizeOf(w);
        long free = w & ~AllocatedBit;
        Marshal.WriteInt64(bp - WordSize, free);
        Marshal.WriteInt64(bp + (nint)size - 2 * WordSize, free);
        if (segregated) // keep the next block's prev-allocated bit honest, so the coalescing check is the one that fires
            Marshal.WriteInt64(bp + (nint)size - WordSize, Header(heap, bp + (nint)size) & ~PrevAllocatedBit);
        Assert.Equal(OffsetOf(heap, bp), Fires(a, "not coalesced").Offset);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void AHeaderThatBreaksTheTilingIsFound(bool segregated)
    {
        var (heap, a, p) = Make(segregated);
        using var _ = heap;
        nint bp = p[6]; // the last block: make it run past the epilogue
        Marshal.WriteInt64(bp - WordSize, Header(heap, bp) + 4096);
        Assert.Equal(OffsetOf(heap, bp), Fires(a, "past the epilogue").Offset);
    }

    [Theory, InlineData(false), InlineData(true)]
    public void AMisalignedSizeIsFound(bool segregated)
    {
        var (heap, a, p) = Make(segregated);
        using var _ = heap;
        Marshal.WriteInt64(p[0] - WordSize, Header(heap, p[0]) + 8);
        Fires(a, "bad header");
    }

    [Theory, InlineData(false), InlineData(true)]
    public void ADamagedEpilogueOrPrologueIsFound(bool segregated)
    {
        var (heap, a, _) = Make(segregated);
        using (heap)
        {
            Marshal.WriteInt64(heap.Break - WordSize, Marshal.ReadInt64(heap.Break - WordSize) & ~AllocatedBit);
            Assert.Equal(heap.Size - WordSize, Fires(a, "epilogue").Offset);
        }
        (heap, a, _) = Make(segregated);
        using (heap)
        {
            Marshal.WriteInt64(heap.HeapLo + PrologueOffset, 0);
            Fires(a, "prologue");
        }
    }

    [Fact]
    public void AWrongPrevAllocatedBitIsFound()
    {
        var (heap, a, p) = Make(segregated: true);
        using var _ = heap;
        Marshal.WriteInt64(p[3] - WordSize, Header(heap, p[3]) & ~PrevAllocatedBit);
        Assert.Equal(OffsetOf(heap, p[3]), Fires(a, "prev-allocated").Offset);
    }

    [Fact]
    public void ABlockLinkedTwiceIsFound()
    {
        var (heap, a, p) = Make(segregated: true);
        using var _ = heap;
        // p[1] and p[4] are free blocks of the same size, so the same list: p[4] → p[1]. Make p[1] point back at p[4].
        int list = SegregatedListAllocator.ClassOf(SizeOf(Header(heap, p[1])));
        Assert.Equal(p[4], a.FreeListHead(list));
        Marshal.WriteInt64(p[1] + NextLinkOffset, p[4]);
        Assert.Equal(OffsetOf(heap, p[4]), Fires(a, "twice").Offset);
    }

    [Fact]
    public void ABadPrevLinkIsFound()
    {
        var (heap, a, p) = Make(segregated: true);
        using var _ = heap;
        Marshal.WriteInt64(p[1] + PrevLinkOffset, 0);
        Assert.Equal(OffsetOf(heap, p[1]), Fires(a, "previous link").Offset);
    }

    [Fact]
    public void AnAllocatedBlockInAFreeListIsFound()
    {
        var (heap, a, p) = Make(segregated: true);
        using var _ = heap;
        Marshal.WriteInt64(p[1] + NextLinkOffset, p[2]);
        Assert.Equal(OffsetOf(heap, p[2]), Fires(a, "not a free block").Offset);
    }

    [Fact]
    public void AFreeBlockMissingFromTheListsIsFound()
    {
        var (heap, a, p) = Make(segregated: true);
        using var _ = heap;
        Marshal.WriteInt64(p[4] + NextLinkOffset, 0); // the list now ends at the head, p[4]; p[1] is lost
        Assert.Equal(OffsetOf(heap, p[1]), Fires(a, "no free list").Offset);
    }

    [Fact]
    public void AFreeBlockInTheWrongListIsFound()
    {
        var (heap, a, p) = Make(segregated: true);
        using var _ = heap;
        // move the whole list holding p[4] and p[1] to an empty list of another class
        long w = Header(heap, p[1]);
        int list = SegregatedListAllocator.ClassOf(SizeOf(w));
        var other = Enumerable.Range(0, SegregatedListAllocator.ClassCount).First(i => i != list && a.FreeListHead(i) == 0);
        ((SegregatedListAllocator)a).MoveList(list, other);
        Assert.Equal(OffsetOf(heap, p[4]), Fires(a, "wrong size class").Offset);
    }

    [Fact]
    public void TheNaiveHeapIsCheckedByItsBlocks()
    {
        using var heap = new SimulatedBreak(1 << 16);
        var naive = new NaiveAllocator(heap);
        naive.Free(naive.Malloc(10));
        naive.Malloc(100);
        Assert.Null(HeapChecker.Check(naive));
        Marshal.WriteInt64(heap.Break - 112, 64 | 1); // the last block now claims 64 bytes, not 112
        Assert.Contains("break", HeapChecker.Check(naive)!.Message);
    }
}

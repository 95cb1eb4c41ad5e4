using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.Posix;
using static Lessons.Heap.BoundaryTags;
using static Lessons.Heap.SegregatedListAllocator;

namespace Lessons.Tests.Heap;

/// <summary>The quick lists of "segregated-slabs" (SegregatedListAllocator.Quick.cs) and the checker's view of them.</summary>
public class QuickListTests
{
    // Blocks of 100 bytes (112-byte blocks, above the cell sizes) with an allocated block between each two.
    static (SimulatedBreak Heap, SegregatedListAllocator A, nint[] P) Make(int count)
    {
        var (heap, a) = Fresh();
        var p = new nint[count];
        for (int i = 0; i < count; i++)
        {
            p[i] = a.Malloc(100);
            Assert.NotEqual(0, a.Malloc(100)); // a neighbour that stays
        }
        return (heap, a, p);
    }

    static (SimulatedBreak Heap, SegregatedListAllocator A) Fresh(string name = "segregated-slabs")
    {
        var heap = new SimulatedBreak(1 << 20);
        return (heap, (SegregatedListAllocator)Allocators.Create(name, heap));
    }

    static long Header(nint bp) => Marshal.ReadInt64(bp - WordSize);

    [Fact]
    public void AFreedSmallBlockComesBackToTheNextMallocOfItsSize()
    {
        var (heap, a, p) = Make(2);
        using var _ = heap;
        a.Free(p[0]);
        Assert.NotEqual(0, Header(p[0]) & QuickBit);
        Assert.False(a.IsLive(p[0]));
        Assert.Contains(a.Blocks(), b => b.Offset == p[0] - heap.HeapLo - WordSize && !b.Allocated); // free, as the heap map shows it
        Assert.Null(HeapChecker.Check(a));
        Assert.Equal(p[0], a.Malloc(97)); // the same block size
        Assert.Equal(0, Header(p[0]) & QuickBit);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void AQuickBlockFreedAgainIsADoubleFree()
    {
        var (heap, a, p) = Make(1);
        using var _ = heap;
        a.Free(p[0]);
        var blocks = a.Blocks();
        Assert.Contains("double free", Assert.Throws<HeapMisuseException>(() => a.Free(p[0])).Message);
        Assert.Throws<HeapMisuseException>(() => a.Realloc(p[0], 10));
        Assert.Equal(blocks, a.Blocks());
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void AtMostQuickDepthBlocksOfASizeWaitTheRestAreFreedAtOnce()
    {
        var (heap, a, p) = Make(QuickDepth + 3);
        using var _ = heap;
        foreach (nint q in p) a.Free(q);
        Assert.Equal(QuickDepth, p.Count(q => (Header(q) & QuickBit) != 0));
        Assert.Equal(3, p.Count(q => (Header(q) & AllocatedBit) == 0));
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void QuickBlocksMergeBeforeTheHeapGrows()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        var p = Enumerable.Range(0, 6).Select(_ => a.Malloc(100)).ToArray();
        nint end = a.Malloc(100); // stays, so that the six are not at the top of the heap
        foreach (nint q in p) a.Free(q); // all quick: none merges
        Assert.All(p, q => Assert.NotEqual(0, Header(q) & QuickBit));
        long size = heap.Size;
        nint big = a.Malloc(6 * 112 - WordSize); // fits only where the six lie, merged
        Assert.Equal(p[0], big);
        Assert.Equal(size, heap.Size);
        Assert.Null(HeapChecker.Check(a));
        a.Free(big);
        a.Free(end);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void FreeingTheBlockBeforeAQuickBlockMergesIt()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint first = a.Malloc(300), quick = a.Malloc(100), end = a.Malloc(100);
        a.Free(quick);
        Assert.NotEqual(0, Header(quick) & QuickBit);
        a.Free(first); // a 320-byte block, too big for a quick list: merges with the quick block after it
        Assert.Equal(BlockSizeFor(300) + BlockSizeFor(100), SizeOf(Header(first)));
        Assert.Equal(0, Header(first) & AllocatedBit);
        Assert.Null(HeapChecker.Check(a));
        a.Free(end);
    }

    [Fact]
    public void ReallocGrowsIntoAQuickBlockAfterIt()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint p = a.Malloc(300), quick = a.Malloc(100), end = a.Malloc(100);
        a.Free(quick);
        Assert.Equal(p, a.Realloc(p, 380));
        Assert.Null(HeapChecker.Check(a));
        a.Free(p);
        a.Free(end);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void AQuickBitOnABlockInNoQuickListIsFound()
    {
        var (heap, a, p) = Make(1);
        using var _ = heap;
        Marshal.WriteInt64(p[0] - WordSize, Header(p[0]) | QuickBit);
        Assert.Contains("quick bit is in no quick list", HeapChecker.Check(a)!.Message);
    }

    [Fact]
    public void AQuickListThatReachesALiveBlockIsFound()
    {
        var (heap, a, p) = Make(2);
        using var _ = heap;
        a.Free(p[0]);
        Marshal.WriteInt64(p[0], p[1]); // the quick block's link now points at a live block
        Assert.Contains("which is not a block with the quick bit", HeapChecker.Check(a)!.Message);
    }

    [Fact]
    public void PlainSegregatedKeepsNoQuickLists()
    {
        var (heap, a) = Fresh("segregated");
        using var _ = heap;
        nint p = a.Malloc(100);
        a.Malloc(100);
        a.Free(p);
        Assert.Equal(0, Header(p) & (QuickBit | AllocatedBit));
        Assert.Null(HeapChecker.Check(a));
    }
}

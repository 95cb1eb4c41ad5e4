using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.Posix;

namespace Lessons.Tests.Heap;

/// <summary>"headerless": a starts bitmap beside the heap, tags at the ends of free blocks, quick lists, and the checker's view of them.</summary>
public class HeaderlessAllocatorTests
{
    static (SimulatedBreak Heap, HeaderlessAllocator A) Fresh()
    {
        var heap = new SimulatedBreak(1 << 22);
        return (heap, (HeaderlessAllocator)Allocators.Create("headerless", heap));
    }

    static void AssertHealthy(HeaderlessAllocator a) => Assert.Null(HeapChecker.Check(a));

    [Fact]
    public void AnAllocatedBlockIsItsPayloadRoundedUpTo16Bytes()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint[] p = [a.Malloc(300), a.Malloc(1), a.Malloc(16), a.Malloc(17), a.Malloc(1000)];
        long[] sizes = [304, 16, 16, 32, 1008];
        Assert.Equal(sizes, a.Blocks().Select(b => b.Size));
        Assert.Equal(sizes.Sum(), heap.Size); // no header, no prologue, no padding
        Assert.Equal(heap.HeapLo, p[0]);
        AssertHealthy(a);
    }

    [Fact]
    public void ALiveBlockThatHoldsTheBytesOfAFreeBlocksEndsIsStillLive()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint p = a.Malloc(300), q = a.Malloc(300), r = a.Malloc(300);
        a.Free(q); // [304, 608) free: tags in its first and last granule
        var bytes = new byte[16];
        Marshal.Copy(q, bytes, 0, 16);
        Marshal.Copy(bytes, 0, p, 16); // p's first granule and r's last now hold the bytes of q's ends
        Marshal.Copy(q + 288, bytes, 0, 16);
        Marshal.Copy(bytes, 0, r + 288, 16);
        Assert.Equal([true, false, true], a.Blocks().Select(b => b.Allocated));
        AssertHealthy(a); // a tag belongs to its granule: copied elsewhere it is only bytes
        a.Free(p);
        a.Free(r);
        Assert.Single(a.Blocks());
        Assert.Contains("double free", Assert.Throws<HeapMisuseException>(() => a.Free(p)).Message);
        AssertHealthy(a);
    }

    [Fact]
    public void ATagWrittenBackAtTheEndOfALiveBlockDoesNotMakeItFree()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        a.Malloc(300);
        nint q = a.Malloc(300); // [304, 608), at the top of the heap
        a.Free(q);
        var tail = new byte[16];
        Marshal.Copy(q + 288, tail, 0, 16); // the free block's last granule: its tag
        Assert.Equal(q, a.Malloc(300));
        Marshal.Copy(tail, 0, q + 288, 16); // the owner writes the same bytes at the same granule: only one end is tagged
        nint r = a.Malloc(500); // the heap grows: the top block must not be taken for a free one
        Assert.Equal(q + 304, r);
        Assert.Equal([true, true, true], a.Blocks().Select(b => b.Allocated));
        AssertHealthy(a);
    }

    [Fact]
    public void ABlockFreedBetweenTwoFreeBlocksMergesWithBoth()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint[] p = [.. Enumerable.Range(0, 4).Select(_ => a.Malloc(300))]; // 304 bytes: above the quick lists' 256
        a.Free(p[0]);
        a.Free(p[2]);
        Assert.Equal(4, a.Blocks().Count);
        a.Free(p[1]);
        Assert.Equal([new BlockInfo(0, 3 * 304, false), new BlockInfo(3 * 304, 304, true)], a.Blocks());
        AssertHealthy(a);
        Assert.Equal(p[0], a.Malloc(900)); // the merged block holds it
        AssertHealthy(a);
    }

    [Fact]
    public void AFreedSmallBlockWaitsInAQuickListAndComesBackToTheNextMallocOfItsSize()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint p = a.Malloc(100), q = a.Malloc(100);
        a.Free(p);
        Assert.False(a.IsLive(p));
        Assert.Contains(new BlockInfo(0, 112, false), a.Blocks());
        AssertHealthy(a);
        Assert.Contains("double free", Assert.Throws<HeapMisuseException>(() => a.Free(p)).Message);
        Assert.Throws<HeapMisuseException>(() => a.Realloc(p, 10));
        Assert.Equal(p, a.Malloc(97)); // 7 granules again
        Assert.True(a.IsLive(p));
        a.Free(q);
        AssertHealthy(a);
    }

    [Fact]
    public void AOneGranuleQuickBlockDoesNotMergeWithTheFreeBlockAfterItUntilTheHeapWouldGrow()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint tiny = a.Malloc(8), big = a.Malloc(300), keep = a.Malloc(300);
        a.Free(tiny); // a quick block of one granule: its tag is at its start, which is its end
        a.Free(big);  // a free block: the quick block before it is not merged
        Assert.Equal([new BlockInfo(0, 16, false), new BlockInfo(16, 304, false), new BlockInfo(320, 304, true)], a.Blocks());
        AssertHealthy(a);
        Assert.Equal(tiny, a.Malloc(16));
        a.Free(tiny);
        long size = heap.Size;
        Assert.Equal(tiny, a.Malloc(320 - 8)); // nothing fits without the quick block: it is freed for real, and the two merge
        Assert.Equal(size, heap.Size);
        a.Free(keep);
        AssertHealthy(a);
    }

    [Fact]
    public void AMallocFromTheNextClassUpTakesTheBestFitAmongItsFirstBlocksWithoutScanningTheRest()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        // Twelve free blocks of the class 2048-2559, apart; freed smallest first, so it is last in the list.
        long[] sizes = [2048, .. Enumerable.Range(1, 11).Select(j => 2048L + 16 * j)];
        var blocks = sizes.Select(s => (P: a.Malloc(s), Spacer: a.Malloc(300))).ToArray();
        foreach (var b in blocks) a.Free(b.P);
        Assert.Equal(HeaderlessAllocator.ClassOf(2048 / 16), HeaderlessAllocator.ClassOf(2224 / 16));
        Assert.NotEqual(HeaderlessAllocator.ClassOf(1500 / 16 + 1), HeaderlessAllocator.ClassOf(2048 / 16));
        // The list runs from the last freed (2224 bytes) back; the first nine end at 2096 bytes, the best fit there.
        Assert.Equal(blocks[3].P, a.Malloc(1500));
        AssertHealthy(a);
    }

    [Fact]
    public void ReallocGrowsAtTheTopOfTheHeapWithoutACopyAndByOnlyWhatIsMissing()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint keep = a.Malloc(64), p = a.Malloc(1000);
        for (int size = 1000; size <= 100_000; size += 999)
        {
            Assert.Equal(p, a.Realloc(p, size));
            Assert.Equal(64 + (size + 15) / 16 * 16, heap.Size);
        }
        AssertHealthy(a);
        a.Free(keep);
        a.Free(p);
    }

    [Fact]
    public void ReallocGrowsIntoAFreeNextBlockAndShrinksInPlace()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        nint p = a.Malloc(400), q = a.Malloc(400), r = a.Malloc(400);
        Marshal.WriteInt64(p, 0x1234);
        a.Free(q);
        Assert.Equal(p, a.Realloc(p, 700)); // into q's block; the rest stays free
        Assert.Equal(0x1234, Marshal.ReadInt64(p));
        Assert.Equal([new BlockInfo(0, 704, true), new BlockInfo(704, 96, false), new BlockInfo(800, 400, true)], a.Blocks());
        Assert.Equal(p, a.Realloc(p, 300)); // the rest merges with the free block after it
        Assert.Equal([new BlockInfo(0, 304, true), new BlockInfo(304, 496, false), new BlockInfo(800, 400, true)], a.Blocks());
        AssertHealthy(a);
        a.Free(r);
        a.Free(p);
        AssertHealthy(a);
    }

    [Fact]
    public void SmallBlocksTakeLessHeapThanWithAnyHeaderedAllocator()
    {
        long HeapFor(string name)
        {
            using var heap = new SimulatedBreak(1 << 22);
            var a = Allocators.Create(name, heap);
            for (int i = 0; i < 1000; i++) Assert.NotEqual(0, a.Malloc(80)); // above the slabs' cells
            return heap.Size;
        }
        Assert.Equal(80_000, HeapFor("headerless"));
        Assert.True(HeapFor("segregated-slabs") >= 96_000); // an 8-byte header makes each block 96 bytes
    }

    [Theory]
    [InlineData(false, 304, "free list 18 holds granule 19, which is not a free block")] // the free block's start bit cleared
    [InlineData(true, 0, "the block at 0 holds a tag that does not match its size")] // a tag at an allocated block's start
    [InlineData(true, 304, "free list 18 holds granule 19, which is not a free block")] // the free block's first tag erased
    [InlineData(true, 592, "the free block at 304 (19 granules) has no tag at its end")]
    public void TheCheckerFindsABrokenBitmapOrTag(bool mark, long offset, string expected)
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        a.Malloc(300);
        nint q = a.Malloc(300);
        a.Malloc(300);
        a.Free(q); // [0, 304) allocated, [304, 608) free, [608, 912) allocated
        AssertHealthy(a);
        a.FlipBit(offset, mark);
        Assert.Contains(expected, HeapChecker.Check(a)?.Message);
    }

    [Fact]
    public void TheCheckerFindsADamagedTagAndABrokenQuickList()
    {
        var (heap, a) = Fresh();
        using var _ = heap;
        a.Malloc(300);
        nint q = a.Malloc(300), r = a.Malloc(100);
        a.Malloc(100);
        a.Free(q);
        a.Free(r); // a quick block
        AssertHealthy(a);
        int tagHigh = Marshal.ReadInt32(q + 300); // the last 4 bytes of the 304-byte free block: half of its end's tag
        Marshal.WriteInt32(q + 300, tagHigh ^ 1);
        Assert.Contains("the free block at 304 (19 granules) has no tag at its end", HeapChecker.Check(a)!.Message);
        Marshal.WriteInt32(q + 300, tagHigh);
        AssertHealthy(a);
        Marshal.WriteInt32(r, 5); // the quick block's link now points at granule 4, inside the first block
        Assert.Contains("quick list 7 holds granule 4, which is not a quick block", HeapChecker.Check(a)?.Message);
    }
}

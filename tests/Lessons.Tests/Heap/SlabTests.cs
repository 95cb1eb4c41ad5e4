using System.Numerics;
using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.L03_ProgramBreak;
using Lessons.Posix;
using static Lessons.Heap.BoundaryTags;
using static Lessons.Heap.SegregatedListAllocator;

namespace Lessons.Tests.Heap;

/// <summary>The slabs of <see cref="SegregatedListAllocator"/> (made with slabs: true) and the checker's slab invariants.</summary>
public class SlabTests
{
    static (SimulatedBreak Heap, SegregatedListAllocator A) Make(long bytes = 1 << 20)
    {
        var heap = new SimulatedBreak(bytes);
        return (heap, new SegregatedListAllocator(heap, slabs: true));
    }

    static long Header(nint bp) => Marshal.ReadInt64(bp - WordSize);

    [Fact]
    public void TinyBlocksAreSixteenByteCellsOfOneSlabAtTheStartOfTheHeap()
    {
        var (heap, a) = Make();
        using var _ = heap;
        var p = Enumerable.Range(0, CellsPerSlab).Select(i => a.Malloc(1 + i % 16)).ToArray();
        nint slab = heap.HeapLo + SlabOrigin;
        for (int i = 0; i < p.Length; i++) Assert.Equal(slab + SlabHeaderSize + 16 * i, p[i]);
        Assert.Equal(61, p.Length);
        Assert.Equal(SlabSize | SlabBit | AllocatedBit | PrevAllocatedBit, Header(slab));
        Assert.Equal(SlabOrigin + SlabSize, heap.Size);         // the slab and the epilogue: no other block
        Assert.Equal([new BlockInfo(FirstBlockOffset, SlabSize, true)], a.Blocks());
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void SegregatedSlabsMakesTheFirstSlabOnlyOnceEnoughSmallBlocksAreLive()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = SegregatedSlabs(heap);
        var few = Enumerable.Range(0, SlabAfter).Select(i => a.Malloc(i % 2 == 0 ? 16 : 48)).ToList(); // sizes count together
        Assert.DoesNotContain(a.Blocks(), b => b.Size == SlabSize); // blocks with headers in the lists: no slab yet
        a.Free(few[0]);
        nint p = a.Malloc(40);                                    // one short of SlabAfter live again: a block
        Assert.DoesNotContain(a.Blocks(), b => b.Size == SlabSize);
        nint cell = a.Malloc(10);                                 // SlabAfter live small blocks: a slab pays now
        Assert.Single(a.Blocks(), b => b.Size == SlabSize && b.Allocated);
        Assert.Equal(cell + 16, a.Malloc(1));                     // … and takes the next small blocks of every size
        Assert.Equal(cell + 32, a.Malloc(64));                    // (four cells)
        foreach (nint q in few.Skip(1)) a.Free(q);
        Assert.Equal(cell + 96, a.Malloc(16));                    // a slab with room is used whatever the count …
        for (int i = 7; i < CellsPerSlab; i++) a.Malloc(16);
        Assert.Single(a.Blocks(), b => b.Size == SlabSize && b.Allocated);
        a.Malloc(16);                                             // … and once it is full, a second slab is made
        Assert.Equal(2, a.Blocks().Count(b => b.Size == SlabSize && b.Allocated));
        Assert.Single(a.Blocks(), b => b.Size == 48 && b.Allocated); // p, still live
        Assert.True(a.IsLive(cell) && a.IsLive(p));
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void BlocksOfEverySizeShareASlabAndAMallocTakesTheShortestFreeRunThatHoldsIt()
    {
        var (heap, a) = Make();
        using var _ = heap;
        nint[] p = [a.Malloc(16), a.Malloc(64), a.Malloc(16), a.Malloc(32), a.Malloc(16)]; // cells 0, 1-4, 5, 6-7, 8
        int[] cells = [0, 1, 5, 6, 8];
        nint first = p[0] - SlabHeaderSize;
        Assert.Equal(cells.Select(c => first + SlabHeaderSize + 16 * c), p);
        a.Free(p[1]);
        a.Free(p[3]);
        Assert.Null(HeapChecker.Check(a));
        Assert.Equal(p[3], a.Malloc(20));  // two cells: the run of two, not the lower run of four
        Assert.Equal(p[1], a.Malloc(49));  // four cells: the run of four
        Assert.Equal(p[4] + 16, a.Malloc(3));
        Assert.Single(a.Blocks(), b => b.Allocated);
        Assert.Null(HeapChecker.Check(a));
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(16, 16)]
    [InlineData(17, 32)]
    [InlineData(33, 48)]
    [InlineData(64, 64)]
    public void EachSizeUpTo64TakesTheCellsThatHoldIt(int size, int cell)
    {
        var (heap, a) = Make();
        using var _ = heap;
        nint p = a.Malloc(size), q = a.Malloc(size);
        Assert.Equal(cell, q - p);
        Assert.Equal(0, (p - heap.HeapLo - SlabOrigin - SlabHeaderSize) % cell);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void A65ByteBlockHasAHeaderLikeInTheListsOnly()
    {
        var (heap, a) = Make();
        using var _ = heap;
        nint p = a.Malloc(65);
        Assert.Equal(SegregatedListAllocator.BlockSizeFor(65) | AllocatedBit | PrevAllocatedBit, Header(p));
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void EmptySlabsGoBackToTheFreeListsButOne()
    {
        var (heap, a) = Make();
        using var _ = heap;
        var p = Enumerable.Range(0, 100).Select(_ => a.Malloc(24)).ToArray(); // two cells each, 30 per slab: four slabs
        Assert.Equal(4, a.Blocks().Count(b => b.Allocated && b.Size == SlabSize));
        foreach (nint q in p.Reverse()) { a.Free(q); Assert.Null(HeapChecker.Check(a)); }
        Assert.Equal(1, a.Blocks().Count(b => b.Allocated));          // the first slab emptied is kept …
        Assert.Equal(1, BitOperations.PopCount((ulong)Marshal.ReadInt64(heap.HeapLo)));
        nint again = a.Malloc(30);                                    // … and used again
        Assert.Equal(1, a.Blocks().Count(b => b.Allocated));
        long before = heap.Size;
        for (int i = 0; i < 1000; i++) a.Free(a.Malloc(8));          // another size: the same slab
        Assert.Equal(1, a.Blocks().Count(b => b.Allocated));
        Assert.Equal(before, heap.Size);
        a.Free(again);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public unsafe void ReallocStaysInTheCellWhileItFitsThenMovesWithTheData()
    {
        var (heap, a) = Make();
        using var _ = heap;
        nint p = a.Malloc(20);
        new Span<byte>((void*)p, 20).Fill(0x5a);
        Assert.Equal(p, a.Realloc(p, 32));
        Assert.Equal(p, a.Realloc(p, 1));
        nint q = a.Realloc(p, 100);
        Assert.NotEqual(p, q);
        Assert.Equal(0x5a, *(byte*)q);  // after the realloc to 1 byte, only the first byte had to be kept
        nint r = a.Realloc(q, 40);  // a block with a header stays one when it shrinks
        Assert.Equal(q, r);
        Assert.Null(HeapChecker.Check(a));
        Assert.Throws<HeapMisuseException>(() => a.Free(p));
    }

    [Fact]
    public void BadFreesOfCellsAreNamedAndChangeNothing()
    {
        var (heap, a) = Make();
        using var _ = heap;
        nint p = a.Malloc(40), q = a.Malloc(40);
        a.Free(p);
        long slabAt = p - heap.HeapLo - SlabHeaderSize - WordSize;
        var twice = Assert.Throws<HeapMisuseException>(() => a.Free(p));
        Assert.Contains($"double free (cell 0 of the slab at offset {slabAt} is free); the heap is unchanged", twice.Message);
        var inside = Assert.Throws<HeapMisuseException>(() => a.Free(q + 24)); // q is cells 3-5
        Assert.Contains($"points 24 bytes into the block at cell 3 of the slab at offset {slabAt}, not at its start", inside.Message);
        var freeCell = Assert.Throws<HeapMisuseException>(() => a.Free(p + 8));
        Assert.Contains($"points 8 bytes into cell 0 of the slab at offset {slabAt}, which is free", freeCell.Message);
        var header = Assert.Throws<HeapMisuseException>(() => a.Free(p - 16));
        Assert.Contains("points into the header of the slab", header.Message);
        Assert.Null(HeapChecker.Check(a));
        a.Free(q);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public unsafe void WhatACellHoldsCannotMakeABlockLookLikeACell()
    {
        // Fill every cell with words that look like slab headers; free(p) must still go by the frame map alone.
        var (heap, a) = Make();
        using var _ = heap;
        // Cells end with words that look like an allocated block's header (so an allocator that read the word before a
        // pointer would take the next cell for a block), and blocks are full of words that look like slab headers.
        var cells = Enumerable.Range(0, 200).Select(_ => a.Malloc(16)).ToList();
        var blocks = Enumerable.Range(0, 50).Select(i => a.Malloc(100 + 40 * i)).ToList();
        foreach (nint c in cells) *(long*)(c + 8) = Pack(32, allocated: true, prevAllocated: true);
        long forged = SlabSize | SlabBit | AllocatedBit | PrevAllocatedBit;
        for (int i = 0; i < blocks.Count; i++) new Span<long>((void*)blocks[i], (100 + 40 * i) / 8).Fill(forged);
        for (int i = 0; i < blocks.Count; i += 2) a.Free(blocks[i]);
        for (int i = 0; i < cells.Count; i += 3) a.Free(cells[i]);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void PastSixtyFourFramesTheFrameMapIsABlockOfTheHeapThatGrows()
    {
        var (heap, a) = Make(16 << 20);
        using var _ = heap;
        var p = new List<nint>();
        var maps = new List<(nint Map, long Frames)>();
        for (int slab = 0; slab < 300; slab++)
        {
            p.AddRange(Enumerable.Range(0, CellsPerSlab).Select(_ => a.Malloc(8)));
            var s = (IWalkableSlabHeap)a;
            if (s.FrameMap != 0 && (maps.Count == 0 || maps[^1].Map != s.FrameMap)) maps.Add((s.FrameMap, s.FrameMapFrames));
        }
        Assert.Equal([64L, 128L, 256L], maps.Select(m => m.Frames)); // the map grew (moved) twice, keeping its bits
        nint map = maps[^1].Map;
        Assert.Contains(a.Blocks(), b => b.Allocated && b.Offset == map - heap.HeapLo - WordSize && b.Size != SlabSize);
        Assert.Null(HeapChecker.Check(a));
        foreach (nint q in p) a.Free(q);
        Assert.Null(HeapChecker.Check(a));
        Assert.Equal(2, a.Blocks().Count(b => b.Allocated)); // the map and the one empty slab kept
    }

    [Fact]
    public void WhenTheHeapIsFullSmallMallocsFailCleanly()
    {
        // 70 KiB: room for about 68 slabs, so the frame map must become a block just when space runs out.
        var (heap, a) = Make(70 << 10);
        using var _ = heap;
        var p = new List<nint>();
        for (nint q; (q = a.Malloc(8)) != 0;) p.Add(q);   // cells, then (when no slab fits) blocks with headers
        Assert.Null(HeapChecker.Check(a));
        Assert.NotEqual(0, ((IWalkableSlabHeap)a).FrameMap);
        Assert.True(p.Count > 64 * CellsPerSlab, $"{p.Count} blocks");
        foreach (nint q in p) a.Free(q);
        Assert.Null(HeapChecker.Check(a));
        Assert.NotEqual(0, a.Malloc(1000));
    }

    [Theory]
    [InlineData("tiny", 0.28)]          // the bound is 35%; 17% without slabs
    [InlineData("binary-16-112", 0.85)] // 79% without slabs
    public void SlabsRaiseUtilizationWhereHeadersDominate(string kind, double atLeast)
    {
        var trace = kind == "tiny" ? TraceGenerator.Tiny(seed: 7) : TraceGenerator.Binary(pairs: 1000, small: 16, large: 112);
        var (heap, a) = Make(64 << 20);
        using var _ = heap;
        var c = MallocLab.Check(trace, a, heap);
        Assert.True(c.Valid, c.Error);
        // the layout's packing, the side state (list heads, the first-block map) aside
        Assert.True(c.HeapUtilization >= atLeast, $"heap utilization {c.HeapUtilization:P1} < {atLeast:P0}");
        Assert.Null(HeapChecker.Check(a));
    }

    // The checker on slabs corrupted on purpose.
    static (SimulatedBreak Heap, SegregatedListAllocator A, nint[] P) Corruptible()
    {
        var (heap, a) = Make();
        var p = new[] { 8, 8, 200, 40, 40, 300 }.Select(n => a.Malloc(n)).ToArray();
        Assert.Null(HeapChecker.Check(a));
        return (heap, a, p);
    }

    static nint SlabAt(SegregatedListAllocator a, nint cell) =>
        a.Heap.HeapLo + SlabOrigin + (nint)((cell - a.Heap.HeapLo - SlabOrigin) / SlabSize * SlabSize);

    static void Fires(SegregatedListAllocator a, string words)
    {
        var v = HeapChecker.Check(a);
        Assert.NotNull(v);
        Assert.Contains(words, v.Message);
    }

    [Fact]
    public void ASlabNotMarkedInTheFrameMapIsFound()
    {
        var (heap, a, _) = Corruptible();
        using var __ = heap;
        Marshal.WriteInt64(heap.HeapLo, 0);
        Fires(a, "whose frame is not marked in the frame map");
    }

    [Fact]
    public void AMarkedFrameWithoutASlabIsFound()
    {
        var (heap, a, _) = Corruptible();
        using var __ = heap;
        Marshal.WriteInt64(heap.HeapLo, Marshal.ReadInt64(heap.HeapLo) | 1L << 40);
        Fires(a, "frame 40 is marked in the frame map, but no slab is there");
    }

    [Fact]
    public void CellBitsPastTheLastCellAreFound()
    {
        var (heap, a, p) = Corruptible();
        using var __ = heap;
        nint slab = SlabAt(a, p[3]);
        Marshal.WriteInt64(slab, Marshal.ReadInt64(slab) | 1L << 62);
        Fires(a, "has bits past its 61 cells");
    }

    [Fact]
    public void ASecondEmptySlabIsFound()
    {
        var (heap, a) = Make();
        using var _ = heap;
        var p = Enumerable.Range(0, CellsPerSlab + 1).Select(_ => a.Malloc(8)).ToArray(); // two slabs
        foreach (nint slab in new[] { SlabAt(a, p[0]), SlabAt(a, p[^1]) })
        {
            Marshal.WriteInt64(slab, 0);
            Marshal.WriteInt64(slab + 24, 0);
        }
        Fires(a, "a second empty slab");
    }

    [Fact]
    public void AFullSlabInAListIsFound()
    {
        var (heap, a, p) = Corruptible();
        using var __ = heap;
        nint slab = SlabAt(a, p[0]);
        Marshal.WriteInt64(slab, (1L << CellsPerSlab) - 1);      // every cell a block of its own
        Marshal.WriteInt64(slab + 24, (1L << CellsPerSlab) - 1);
        Fires(a, "a full slab is in a list of slabs with a free cell");
    }

    [Theory]
    [InlineData("start of a free cell", "marks cells that are not in use")]
    [InlineData("cell without a start", "cell 50 of the slab is in use, but no block starts there or before it")]
    [InlineData("block too long", "the block at cell 2 of the slab is 6 cells long (at most 4)")]
    [InlineData("wrong list", "a slab whose longest run of free cells is 1 is in list 3")]
    public void BrokenStartBitsAndAWrongListAreFound(string broken, string words)
    {
        var (heap, a, p) = Corruptible(); // the cells: 8 at 0, 8 at 1, 40 at 2-4, 40 at 5-7
        using var __ = heap;
        nint slab = SlabAt(a, p[0]);
        long used = Marshal.ReadInt64(slab), starts = Marshal.ReadInt64(slab + 24);
        Assert.Equal(0xffL, used);
        Assert.Equal(0b10_0111L, starts);
        switch (broken)
        {
            case "start of a free cell": starts |= 1L << 50; break;
            case "cell without a start": used |= 1L << 50; break;
            case "block too long": starts &= ~(1L << 5); break;
            default: used = starts = ((1L << CellsPerSlab) - 1) & ~(1L << 60); break; // one free cell, in list 3
        }
        Marshal.WriteInt64(slab, used);
        Marshal.WriteInt64(slab + 24, starts);
        Fires(a, words);
    }

    [Fact]
    public void ASlabBitOnAnOrdinaryBlockIsFound()
    {
        var (heap, a, p) = Corruptible();
        using var __ = heap;
        Marshal.WriteInt64(p[2] - WordSize, Marshal.ReadInt64(p[2] - WordSize) | SlabBit);
        Fires(a, "a slab of 208 bytes");
    }

    [Fact]
    public void WithoutSlabsTheSlabBitIsABadHeader()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        nint p = a.Malloc(8);
        Marshal.WriteInt64(p - WordSize, Marshal.ReadInt64(p - WordSize) | SlabBit);
        Fires(a, "bad header");
    }
}

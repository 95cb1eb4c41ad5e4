using System.Numerics;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Heap;

/// <summary>
/// The malloc lab's mm_checkheap: walks a heap and reports the first broken invariant, or null when all hold.
/// For a <see cref="IWalkableHeap"/> it reads the words of the heap itself (see <see cref="BoundaryTags"/>):
/// the prologue and epilogue are intact; every payload is 16-byte aligned; every block size is a multiple of 16,
/// at least 32 and inside the heap; headers and footers agree; prev-allocated bits match; no two free blocks touch
/// (when the allocator coalesces); the blocks tile [HeapLo, Break) exactly; and, with explicit free lists, every
/// free block is in exactly one list, the right one for its size, nothing else is in a list, and each block's
/// previous link points back at the block before it; with slabs (<see cref="IWalkableSlabHeap"/>), also the slabs'
/// invariants (see CheckSlabs), the map of each KiB's first block (see CheckFirstBlocks) and the quick lists (see
/// CheckQuickLists). For any other <see cref="IHeapView"/> it checks that the
/// blocks have positive sizes and tile the heap from the first block to the break.
/// </summary>
public static class HeapChecker
{
    /// <summary>The first violation found, or null.</summary>
    public static HeapViolation? Check(IHeapView heap)
    {
        ArgumentNullException.ThrowIfNull(heap);
        return heap switch
        {
            IWalkableHeap w => CheckWalkable(w),
            HeaderlessAllocator h => CheckBlocks(heap) ?? h.CheckInvariants(),
            _ => CheckBlocks(heap),
        };
    }

    static HeapViolation? CheckBlocks(IHeapView heap)
    {
        var blocks = heap.Blocks();
        long size = heap.Heap.Size;
        if (blocks.Count == 0) return null;
        long at = blocks[0].Offset;
        if (at < 0 || at > FirstBlockOffset + WordSize) return new HeapViolation($"the first block starts at {at}, not at the start of the heap", at);
        foreach (var b in blocks)
        {
            if (b.Offset != at) return new HeapViolation($"a block starts at {b.Offset}, but the block before ends at {at}", b.Offset);
            if (b.Size <= 0) return new HeapViolation($"block size {b.Size}", b.Offset);
            at += b.Size;
        }
        return at == size ? null : new HeapViolation($"the blocks end at {at}, but the break is at {size}", at);
    }

    static HeapViolation? CheckWalkable(IWalkableHeap heap)
    {
        if (CheckPrologue(heap) is { } prologue) return prologue;
        var walk = new BlockWalk(heap);
        if (walk.Run() is { } broken) return broken;
        if (walk.Slabs && CheckSlabs((IWalkableSlabHeap)heap, walk.SlabList, walk.FrameMapBlock) is { } slabViolation) return slabViolation;
        if (heap is IWalkableSlabHeap slabHeap && CheckFirstBlocks(slabHeap, walk.FirstSlots) is { } firstViolation) return firstViolation;
        if (heap is IWalkableSlabHeap quickHeap && CheckQuickLists(quickHeap, walk.Quick) is { } quickViolation) return quickViolation;
        return CheckFreeLists(heap, walk.Free, walk.FreeSet);
    }

    static HeapViolation? CheckPrologue(IWalkableHeap heap)
    {
        nint lo = heap.Heap.HeapLo;
        long size = heap.Heap.Size;
        if (size < EmptyHeapSize) return new HeapViolation($"the heap is {size} bytes, smaller than an empty heap ({EmptyHeapSize})", 0);
        long prologue = Get(lo + PrologueOffset);
        if ((prologue & ~PrevAllocatedBit) != Pack(16, true) || Get(lo + PrologueOffset + WordSize) != prologue)
            return new HeapViolation($"the prologue is damaged (header 0x{prologue:x}, footer 0x{Get(lo + PrologueOffset + WordSize):x})", PrologueOffset);
        return null;
    }

    /// <summary>The walk from the first block to the epilogue: each block's checks, and the free blocks and slabs it meets.</summary>
    sealed class BlockWalk(IWalkableHeap heap)
    {
        readonly nint lo = heap.Heap.HeapLo;
        readonly long size = heap.Heap.Size;
        readonly bool prevBits = !heap.FootersOnAllocatedBlocks;
        readonly nint frameMap = heap is IWalkableSlabHeap { HasSlabs: true } s ? s.FrameMap : 0;
        public readonly bool Slabs = heap is IWalkableSlabHeap { HasSlabs: true };
        public readonly List<nint> Free = [];
        public readonly HashSet<nint> FreeSet = [];
        public readonly List<nint> SlabList = [];
        public long FrameMapBlock; // the size of the allocated block at frameMap, once the walk has met it
        public readonly List<(long Frame, int Slot)> FirstSlots = [];
        public readonly HashSet<nint> Quick = []; // blocks with the quick bit // per frame from SlabOrigin, 1 + the slot of its first payload

        public HeapViolation? Run()
        {
            bool prevAllocated = true;
            long off = FirstBlockOffset;
            while (true)
            {
                if (off > size - WordSize) return new HeapViolation($"the block walk reached offset {off}, past the epilogue's place ({size - WordSize})", off);
                long w = Get(lo + (nint)off);
                long bsize = SizeOf(w);
                bool allocated = (w & AllocatedBit) != 0;
                if (prevBits && ((w & PrevAllocatedBit) != 0) != prevAllocated)
                    return new HeapViolation($"the prev-allocated bit says the block before is {(prevAllocated ? "free" : "allocated")}, but it is {(prevAllocated ? "allocated" : "free")}", off);
                long frame = (off + WordSize - SegregatedListAllocator.SlabOrigin) / SegregatedListAllocator.SlabSize;
                if (off + WordSize >= SegregatedListAllocator.SlabOrigin && (FirstSlots.Count == 0 || FirstSlots[^1].Frame != frame))
                    FirstSlots.Add((frame, (int)(((off + WordSize - SegregatedListAllocator.SlabOrigin) & (SegregatedListAllocator.SlabSize - 1)) >> 4) + 1));
                if (bsize == 0) return Epilogue(off, allocated);
                if (Block(off, w, bsize, allocated, prevAllocated) is { } bad) return bad;
                prevAllocated = allocated;
                off += bsize;
            }
        }

        HeapViolation? Epilogue(long off, bool allocated)
        {
            if (off != size - WordSize) return new HeapViolation($"a size-0 header (the epilogue) at {off}, but the heap ends at {size}", off);
            return allocated ? null : new HeapViolation("the epilogue is not marked allocated", off);
        }

        // A block of bsize > 0 bytes with header w at off: alignment, header bits, slab placement, bounds, footer, coalescing.
        HeapViolation? Block(long off, long w, long bsize, bool allocated, bool prevAllocated)
        {
            if ((off + WordSize) % Alignment != 0) return new HeapViolation($"the payload at {off + WordSize} is not {Alignment}-byte aligned", off);
            long flags = AllocatedBit | PrevAllocatedBit | (Slabs && allocated ? SegregatedListAllocator.SlabBit | SegregatedListAllocator.QuickBit : 0);
            if ((w & (Alignment - 1) & ~flags) != 0 || bsize < MinBlockSize)
                return new HeapViolation($"bad header 0x{w:x} (size {bsize})", off);
            if ((w & flags & SegregatedListAllocator.QuickBit) != 0)
            {
                if ((w & SegregatedListAllocator.SlabBit) != 0) return new HeapViolation($"bad header 0x{w:x}: a slab in a quick list", off);
                Quick.Add(lo + (nint)(off + WordSize));
            }
            if ((w & flags & SegregatedListAllocator.SlabBit) != 0)
            {
                if (Slab(off, bsize) is { } slab) return slab;
            }
            else if (allocated && frameMap == lo + (nint)(off + WordSize)) FrameMapBlock = bsize;
            if (off + bsize > size - WordSize) return new HeapViolation($"the block ({bsize} bytes) runs past the epilogue at {size - WordSize}", off);
            if (!allocated || heap.FootersOnAllocatedBlocks)
            {
                long footer = Get(lo + (nint)(off + bsize - WordSize));
                if (footer != w) return new HeapViolation($"header 0x{w:x} and footer 0x{footer:x} disagree", off);
            }
            if (!allocated)
            {
                if (!prevAllocated && heap.Coalesces) return new HeapViolation("two free blocks next to each other (not coalesced)", off);
                nint bp = lo + (nint)(off + WordSize);
                Free.Add(bp);
                FreeSet.Add(bp);
            }
            return null;
        }

        HeapViolation? Slab(long off, long bsize)
        {
            if (bsize != SegregatedListAllocator.SlabSize)
                return new HeapViolation($"a slab of {bsize} bytes (slabs are {SegregatedListAllocator.SlabSize})", off);
            if ((off + WordSize - SegregatedListAllocator.SlabOrigin) % SegregatedListAllocator.SlabSize != 0)
                return new HeapViolation($"a slab whose payload (at {off + WordSize}) is not {SegregatedListAllocator.SlabOrigin} + a multiple of {SegregatedListAllocator.SlabSize}", off);
            SlabList.Add(lo + (nint)(off + WordSize));
            return null;
        }
    }

    // The map of each frame's first payload (when the heap keeps one) agrees with the walk: frames where no payload
    // starts hold 0.
    static HeapViolation? CheckFirstBlocks(IWalkableSlabHeap heap, List<(long Frame, int Slot)> expected)
    {
        if (heap.FirstBlockSlot(0) is null) return null;
        long frames = expected.Count == 0 ? 0 : expected[^1].Frame + 1;
        int k = 0;
        for (long f = 0; f < frames; f++)
        {
            int want = k < expected.Count && expected[k].Frame == f ? expected[k++].Slot : 0;
            int got = heap.FirstBlockSlot(f)!.Value;
            if (got != want)
            {
                long at = SegregatedListAllocator.SlabOrigin + f * SegregatedListAllocator.SlabSize;
                return new HeapViolation($"the first-block map says frame {f} (offset {at}) starts with {(got == 0 ? "no block" : $"the payload at {at + (got - 1) * 16}")}, " +
                    $"but the walk finds {(want == 0 ? "none" : $"the payload at {at + (want - 1) * 16}")}", at);
            }
        }
        return null;
    }

    // The quick lists hold exactly the blocks with the quick bit, each once, in the list of its size, at most QuickDepth each.
    static HeapViolation? CheckQuickLists(IWalkableSlabHeap heap, HashSet<nint> quick)
    {
        nint lo = heap.Heap.HeapLo;
        var seen = new HashSet<nint>();
        for (int list = 0; list < heap.QuickListCount; list++)
        {
            int count = 0;
            for (nint p = heap.QuickListHead(list); p != 0; p = (nint)Get(p))
            {
                long at = (long)p - (long)lo - WordSize;
                if (!quick.Contains(p)) return new HeapViolation($"quick list {list} holds 0x{p:x}, which is not a block with the quick bit", at);
                if (!seen.Add(p)) return new HeapViolation($"the quick block is reached twice through the quick lists (again in list {list})", at);
                long size = SizeOf(Get(p - WordSize));
                if (size != 16 * (list + 2)) return new HeapViolation($"a block of {size} bytes is in quick list {list}, which holds blocks of {16 * (list + 2)}", at);
                if (++count > SegregatedListAllocator.QuickDepth) return new HeapViolation($"quick list {list} holds more than {SegregatedListAllocator.QuickDepth} blocks", at);
            }
        }
        foreach (nint p in quick)
            if (!seen.Contains(p)) return new HeapViolation("a block with the quick bit is in no quick list", (long)p - (long)lo - WordSize);
        return null;
    }

    // Every free block is in exactly one free list, the right one for its size, with the previous links right; nothing else is.
    static HeapViolation? CheckFreeLists(IWalkableHeap heap, List<nint> free, HashSet<nint> freeSet)
    {
        nint lo = heap.Heap.HeapLo;
        if (heap.FreeListCount == 0) return null;
        var seen = new HashSet<nint>();
        for (int list = 0; list < heap.FreeListCount; list++)
        {
            nint prev = 0;
            for (nint bp = heap.FreeListHead(list); bp != 0; prev = bp, bp = (nint)Get(bp + NextLinkOffset))
            {
                long at = (long)bp - (long)lo - WordSize;
                if (!freeSet.Contains(bp))
                    return new HeapViolation($"free list {list} holds 0x{bp:x}" + (prev == 0 ? "" : $" (after 0x{prev:x})") + ", which is not a free block", at);
                if (!seen.Add(bp)) return new HeapViolation($"the free block is reached twice through the free lists (again in list {list})", at);
                long link = Get(bp + PrevLinkOffset);
                if (link != prev) return new HeapViolation($"in free list {list}, the previous link is 0x{link:x}, but the block before is 0x{prev:x}", at);
                long bsize = SizeOf(Get(bp - WordSize));
                if (!heap.BelongsInList(list, bsize)) return new HeapViolation($"a free block of {bsize} bytes is in list {list}, the wrong size class", at);
            }
        }
        foreach (nint bp in free)
            if (!seen.Contains(bp)) return new HeapViolation("a free block is in no free list", (long)bp - (long)lo - WordSize);
        return null;
    }

    // Slabs: only bits of real cells, a start bit at the first cell of every block and only there, blocks of at most
    // MaxCellSize bytes, at most one empty slab; the frame map is an allocated block long enough for its frames and
    // marks exactly the slabs' frames; the lists of slabs with a free cell hold exactly those, each in the list of its
    // longest run of free cells.
    static HeapViolation? CheckSlabs(IWalkableSlabHeap heap, List<nint> slabList, long mapBlock)
    {
        const long size = SegregatedListAllocator.SlabSize;
        nint lo = heap.Heap.HeapLo;
        nint map = heap.FrameMap;
        long frames = heap.FrameMapFrames;
        long At(nint slab) => (long)slab - (long)lo - WordSize;
        if (map != 0)
        {
            if (mapBlock == 0)
                return new HeapViolation($"the frame map (0x{map:x}) is not an allocated block", (long)map - (long)lo - WordSize);
            if (frames < 0 || frames % 64 != 0 || (mapBlock - WordSize) * 8 < frames)
                return new HeapViolation($"the frame map covers {frames} frames, but its block holds {(mapBlock - WordSize) * 8} bits", (long)map - (long)lo - WordSize);
        }
        bool Marked(long frame) => frame < 64 ? (Get(lo) & (1L << (int)frame)) != 0
            : frame - 64 < frames && (Get(map + (nint)((frame - 64) >> 6) * 8) & (1L << (int)((frame - 64) & 63))) != 0;
        var slabSet = new HashSet<nint>(slabList);
        var partial = new Dictionary<nint, int>(); // a slab with a free cell, and the list it belongs in
        const int cells = SegregatedListAllocator.CellsPerSlab, longest = SegregatedListAllocator.MaxCellSize / 16;
        const ulong allCells = (1UL << cells) - 1;
        bool anEmptySlab = false;
        foreach (nint slab in slabList)
        {
            ulong used = (ulong)Get(slab), starts = (ulong)Get(slab + 24);
            if ((used & ~allCells) != 0) return new HeapViolation($"the slab's cell bitmap 0x{used:x} has bits past its {cells} cells", At(slab));
            if ((starts & ~used) != 0) return new HeapViolation($"the slab's start bitmap 0x{starts:x} marks cells that are not in use (0x{used:x})", At(slab));
            if ((used & ~starts & ~(used << 1)) is var loose and not 0)
                return new HeapViolation($"cell {BitOperations.TrailingZeroCount(loose)} of the slab is in use, but no block starts there or before it", At(slab));
            for (ulong rest = starts; rest != 0; rest &= rest - 1)
            {
                int k = BitOperations.TrailingZeroCount(rest);
                int length = SegregatedListAllocator.RunLength(used, starts, k);
                if (length > longest) return new HeapViolation($"the block at cell {k} of the slab is {length} cells long (at most {longest})", At(slab));
            }
            if (used == 0 && anEmptySlab) return new HeapViolation("a second empty slab (one is kept, the others go back to the free lists)", At(slab));
            anEmptySlab |= used == 0;
            if (!Marked(((long)slab - (long)lo - SegregatedListAllocator.SlabOrigin) / size)) return new HeapViolation("a slab whose frame is not marked in the frame map", At(slab));
            if (used != allCells) partial[slab] = Math.Min(LongestFreeRun(used & allCells, cells), heap.SlabListCount) - 1;
        }
        for (long frame = 0; frame < 64 + frames; frame++)
            if (Marked(frame) && !slabSet.Contains(lo + SegregatedListAllocator.SlabOrigin + (nint)(frame * size)))
                return new HeapViolation($"frame {frame} is marked in the frame map, but no slab is there", SegregatedListAllocator.SlabOrigin + frame * size - WordSize);
        var seen = new HashSet<nint>();
        for (int list = 0; list < heap.SlabListCount; list++)
        {
            nint prev = 0;
            for (nint slab = heap.PartialSlabs(list); slab != 0; prev = slab, slab = (nint)Get(slab + 8))
            {
                if (!slabSet.Contains(slab)) return new HeapViolation($"the list of slabs with a free cell holds 0x{slab:x}, which is not a slab", (long)slab - (long)lo - WordSize);
                if (!seen.Add(slab)) return new HeapViolation("the lists of slabs with a free cell reach this slab twice", At(slab));
                if (!partial.TryGetValue(slab, out int belongs)) return new HeapViolation("a full slab is in a list of slabs with a free cell", At(slab));
                if (belongs != list)
                    return new HeapViolation($"a slab whose longest run of free cells is {belongs + 1}{(belongs + 1 == heap.SlabListCount ? " or more" : "")} is in list {list}", At(slab));
                if (Get(slab + 16) != prev) return new HeapViolation($"in the list of slabs with a free cell, the previous link is 0x{Get(slab + 16):x}, but the slab before is 0x{prev:x}", At(slab));
            }
        }
        foreach (nint slab in partial.Keys)
            if (!seen.Contains(slab)) return new HeapViolation("a slab with a free cell is not in the list of slabs with a free cell", At(slab));
        return null;
    }

    // The longest run of clear bits among the first `cells` bits of used.
    static int LongestFreeRun(ulong used, int cells)
    {
        int longest = 0, run = 0;
        for (int k = 0; k < cells; k++)
        {
            run = (used >> k & 1) == 0 ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }
        return longest;
    }
}

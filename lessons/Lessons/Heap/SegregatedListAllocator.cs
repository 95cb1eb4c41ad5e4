using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Heap;

/// <summary>
/// Segregated explicit free lists (see <see cref="BoundaryTags"/> for the layout). Free blocks are kept in
/// <see cref="ClassCount"/> doubly linked lists, one per size class, with the links inside the free blocks' payloads;
/// a bitmap of non-empty lists finds the next class up in one instruction, and only the non-empty lists have a head
/// (a 32-bit offset in a short array, found through a byte per class), so that the list heads of a small heap cost a
/// few dozen bytes instead of 1 KiB. Classes up to 1 KiB hold one block size
/// each (32, 48, … 1024 bytes), so any block in them fits; above, each power of two is split into four classes
/// (1024–1279, 1280–1535, …; the last class takes everything from 64 MiB up), and malloc takes the best fit among the
/// first few blocks of the request's class, else the best fit of the next non-empty class (its head if that class holds
/// one size; otherwise its smallest block, which is the best fit in the whole heap). Freed blocks go to the
/// front of their list (LIFO) after merging with free neighbours. Allocated blocks have no footer: each header's
/// <see cref="BoundaryTags.PrevAllocatedBit"/> says whether the block before is allocated, which saves 8 bytes per block.
/// <para>Placement keeps small and large blocks apart, so that freed large blocks merge with each other instead of
/// leaving holes between small ones: small blocks (at most 112 bytes) are cut from the end of a free block, large ones
/// from its start. When nothing fits, the break moves up by only what is missing (the free block at the top is
/// extended), except for a small block above a large one: then it moves by a chunk (at most 4 KiB, at most 1/16 of
/// the heap) that the next small blocks share.</para>
/// <para>Realloc shrinks in place or grows into a free next block. A block that ends the heap grows there, without a copy,
/// by moving the break only by what is missing: a buffer reallocated larger over and over stays put and costs no more
/// heap than it holds. It is copied only where the copy saves at least as many bytes of heap as it moves (into a free
/// block elsewhere when the growth it avoids is at least the block's size, or down into a free previous block at least as
/// large). Elsewhere the block slides down into a free previous block (with the next one) if they hold it, else falls
/// back to allocate-copy-free.</para>
/// <para>Made with <c>slabs: true</c> ("segregated-slabs"), blocks of up to 64 bytes are header-less runs of 16-byte
/// cells of slabs instead (SegregatedListAllocator.Slabs.cs), but only once <see cref="SlabAfter"/> small list blocks
/// are live: a 1 KiB slab for a handful of small blocks costs more than their headers. While there is a slab (even a
/// full one), every small block goes into a slab, so that slabs and small list blocks do not take turns.</para>
/// <para>With slabs it also keeps quick lists of freed small blocks (SegregatedListAllocator.Quick.cs) and no bitmap of
/// live blocks: a free is checked by walking the headers from the first block of its KiB (SegregatedListAllocator.Slabs.cs).</para>
/// </summary>
public sealed partial class SegregatedListAllocator : ArenaAllocator, IWalkableHeap
{
    /// <summary>How many size classes (free lists) there are.</summary>
    public const int ClassCount = ClassHeads.Classes;
    const int ExactClasses = 63;  // 32 … 1024 by 16; then four classes per power of two
    const long ExactLimit = 1024;
    const int BestFitScan = 8;    // blocks examined past the first fit in a range class
    const long SmallBlock = 112;  // blocks up to this size are placed at the end of the free block they come from
    const long SmallChunk = 4096; // the most the break moves for a small block …
    const int ChunkDivisor = 16;  // … and at most this fraction of the heap

    ClassHeads lists = new(); // the heads of the non-empty classes (payload offsets from HeapLo)

    nint smallTop; // the break when the block at the top is a small one that moved it (then no chunk is needed)

    /// <summary>Segregated explicit free lists, best fit within a size class.</summary>
    [Allocator("segregated", "segregated explicit free lists, boundary tags, coalescing at once", Order = 5)]
    public static SegregatedListAllocator Segregated(SimulatedBreak heap) => new(heap);

    /// <summary>The same, with blocks of at most 64 bytes in slabs of 16-byte cells, without headers (the best reference allocator).</summary>
    [Allocator("segregated-slabs", "segregated lists plus slabs of 16-byte cells for blocks up to 64 bytes (the best reference allocator)", Order = 6)]
    public static SegregatedListAllocator SegregatedSlabs(SimulatedBreak heap) => new(heap, slabs: true, slabAfter: SlabAfter);

    /// <summary>Takes over <paramref name="heap"/>, which must be empty. With <paramref name="slabs"/>, blocks of at most
    /// <see cref="MaxCellSize"/> bytes go into slabs instead (see <see cref="SlabSize"/>), once
    /// <paramref name="slabAfter"/> small blocks are live in the free lists' blocks (0: from the first).</summary>
    public SegregatedListAllocator(SimulatedBreak heap, bool slabs = false, int slabAfter = 0) : base(heap, checksLiveBlocks: slabs)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slabAfter);
        this.slabs = slabs;
        this.slabAfter = slabAfter;
        MaxHeapSize = Math.Min(heap.MaxSize, uint.MaxValue & ~15L); // list heads are 32-bit offsets
        if (slabs) firstBlocks = new byte[8]; // grown with the heap (GrowHeap)
        GrowHeap(EmptyHeapSize);
        WriteEmptyHeap(Lo, prevBits: true);
        AddBoundary(Lo + EmptyHeapSize); // the epilogue
    }

    /// <inheritdoc/>
    public override string Name => slabs ? "segregated-slabs" : "segregated";

    /// <inheritdoc/>
    protected override int HeaderSize => WordSize;

    /// <summary>The block size a request of <paramref name="size"/> bytes needs: header and payload, rounded to 16 (at least 32).</summary>
    public static long BlockSizeFor(long size) => Math.Max(MinBlockSize, Align(size + WordSize));

    /// <summary>The free list a free block of <paramref name="blockSize"/> bytes belongs in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ClassOf(long blockSize)
    {
        if (blockSize <= ExactLimit) return (int)(blockSize >> 4) - 2;
        int log = BitOperations.Log2((ulong)blockSize);
        int c = ExactClasses + ((log - 10) << 2) + (int)((blockSize >> (log - 2)) & 3);
        return Math.Min(ClassCount - 1, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool IsNonEmpty(int c) => lists.IsNonEmpty(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref uint HeadOffset(int c) => ref lists.Head(c);

    // The head of class c's list, 0 when it is empty.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    nint Head(int c) => IsNonEmpty(c) ? Lo + (nint)HeadOffset(c) : 0;

    // Breaks the heap for HeapChecker's tests: the list of class from (non-empty) becomes the list of class to (empty).
    internal void MoveList(int from, int to)
    {
        nint head = Head(from);
        DropClass(from);
        AddClass(to, (uint)(head - Lo));
    }

    // Class c (empty) gets a list: the one block at payload offset off.
    void AddClass(int c, uint off) => lists.Add(c, off);

    // Class c is now empty.
    void DropClass(int c) => lists.Drop(c, new HeadClass(Lo));

    readonly struct HeadClass(nint lo) : IHeadClass
    {
        public int Of(uint head) => ClassOf(Size(lo + (nint)head));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static long Size(nint bp) => SizeOf(Get(bp - WordSize));

    // Writes a free block's header and footer, and clears the next block's prev-allocated bit.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MakeFree(nint bp, long size, bool prevAllocated)
    {
        long w = Pack(size, false, prevAllocated);
        Put(bp - WordSize, w);
        Put(bp + (nint)size - 2 * WordSize, w);
        nint nh = bp + (nint)size - WordSize;
        Put(nh, Get(nh) & ~PrevAllocatedBit); // if that block is free too, its footer is stale until Coalesce merges the two
    }

    // Writes an allocated block's header and sets the next block's prev-allocated bit (and its footer's, if free).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MakeAllocated(nint bp, long size, bool prevAllocated)
    {
        Put(bp - WordSize, Pack(size, true, prevAllocated));
        nint next = bp + (nint)size;
        long nw = Get(next - WordSize) | PrevAllocatedBit;
        Put(next - WordSize, nw);
        if ((nw & AllocatedBit) == 0) Put(next + (nint)SizeOf(nw) - 2 * WordSize, nw);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Insert(nint bp, long size)
    {
        int c = ClassOf(size);
        Put(bp + PrevLinkOffset, 0);
        if (!IsNonEmpty(c))
        {
            Put(bp + NextLinkOffset, 0);
            AddClass(c, (uint)(bp - Lo));
            return;
        }
        ref uint head = ref HeadOffset(c);
        nint old = Lo + (nint)head;
        Put(bp + NextLinkOffset, old);
        Put(old + PrevLinkOffset, bp);
        head = (uint)(bp - Lo);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Remove(nint bp, long size)
    {
        nint next = (nint)Get(bp + NextLinkOffset), prev = (nint)Get(bp + PrevLinkOffset);
        if (prev != 0) Put(prev + NextLinkOffset, next);
        else
        {
            int c = ClassOf(size);
            if (next != 0) HeadOffset(c) = (uint)(next - Lo);
            else DropClass(c);
        }
        if (next != 0) Put(next + PrevLinkOffset, prev);
    }

    // The free block bp (in no list) takes the place of the free block old, of class c, in its list.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Replace(nint old, nint bp, int c)
    {
        nint next = (nint)Get(old + NextLinkOffset), prev = (nint)Get(old + PrevLinkOffset);
        Put(bp + NextLinkOffset, next);
        Put(bp + PrevLinkOffset, prev);
        if (next != 0) Put(next + PrevLinkOffset, bp);
        if (prev != 0) Put(prev + NextLinkOffset, bp);
        else HeadOffset(c) = (uint)(bp - Lo);
    }

    // The first non-empty class at or above c, or -1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int NextNonEmpty(int c) => lists.NextNonEmpty(c);

    nint Find(long asize)
    {
        int c = ClassOf(asize);
        if (c >= ExactClasses)
        {
            // a range class: best fit among the first blocks that fit
            nint best = 0;
            long bestSize = long.MaxValue;
            int extra = -1;
            for (nint bp = Head(c); bp != 0 && extra < BestFitScan; bp = (nint)Get(bp + NextLinkOffset))
            {
                long s = Size(bp);
                if (s < asize) continue;
                if (s < bestSize) { best = bp; bestSize = s; if (s == asize) break; }
                extra++;
            }
            if (best != 0) return best;
            c++;
        }
        int k = c < ClassCount ? NextNonEmpty(c) : -1;
        return k < 0 ? 0 : k < ExactClasses ? Head(k) : Smallest(k);
    }

    // The smallest block of range class k (the lowest address among equals): every block of the classes above is larger,
    // so this is the best fit in the whole heap. Taking the head instead cuts into whichever block was freed last.
    nint Smallest(int k)
    {
        nint best = Head(k);
        long bestSize = Size(best);
        for (nint bp = (nint)Get(best + NextLinkOffset); bp != 0; bp = (nint)Get(bp + NextLinkOffset))
        {
            long s = Size(bp);
            if (s < bestSize || (s == bestSize && bp < best)) { best = bp; bestSize = s; }
        }
        return best;
    }

    /// <inheritdoc/>
    protected override nint AllocateBlock(long size)
    {
        if (slabs && size <= MaxCellSize && WantsCell())
        {
            nint cell = AllocateCell(size);
            if (cell != 0) return cell;
        }
        nint p = TryQuickMalloc(BlockSizeFor(size));
        if (p == 0) p = AllocateListBlock(size);
        if (p != 0) CountSmall(Size(p), 1);
        return p;
    }

    // malloc from the free lists (or the break).
    nint AllocateListBlock(long size)
    {
        long asize = BlockSizeFor(size);
        nint bp = Find(asize);
        if (bp == 0 && quickTotal != 0)
        {
            FlushQuick(); // before the heap grows
            bp = Find(asize);
        }
        if (bp == 0)
        {
            bp = ExtendFor(asize);
            if (bp == 0) return 0;
        }
        return Take(bp, asize);
    }

    // Allocates asize bytes from the free block bp (in its list). Small blocks come from its end, so that they pile up
    // from the top of a free block and large ones from its bottom, and freed large blocks lie next to each other and
    // merge; others from its start. A rest that stays in the same class keeps the block's place in its list.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    nint Take(nint bp, long asize)
    {
        long csize = Size(bp), rest = csize - asize;
        bool prevAllocated = (Get(bp - WordSize) & PrevAllocatedBit) != 0;
        if (rest < MinBlockSize)
        {
            Remove(bp, csize);
            MakeAllocated(bp, csize, prevAllocated);
            return bp;
        }
        int c = ClassOf(csize);
        bool stays = ClassOf(rest) == c;
        if (asize <= SmallBlock) // the rest stays at bp
        {
            if (!stays) Remove(bp, csize);
            MakeFree(bp, rest, prevAllocated);
            if (!stays) Insert(bp, rest);
            nint q = bp + (nint)rest;
            AddBoundary(q);
            MakeAllocated(q, asize, false);
            return q;
        }
        nint r = bp + (nint)asize;
        if (stays) Replace(bp, r, c);
        else Remove(bp, csize);
        Put(bp - WordSize, Pack(asize, true, prevAllocated));
        AddBoundary(r);
        MakeFree(r, rest, true);
        if (!stays) Insert(r, rest);
        return bp;
    }

    // Allocates asize bytes at the start of the block bp of csize bytes (not in any list); the rest becomes free.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Place(nint bp, long asize, long csize)
    {
        bool prevAllocated = (Get(bp - WordSize) & PrevAllocatedBit) != 0;
        if (csize - asize >= MinBlockSize)
        {
            Put(bp - WordSize, Pack(asize, true, prevAllocated)); // the next block is the new free rest
            nint rest = bp + (nint)asize;
            AddBoundary(rest);
            MakeFree(rest, csize - asize, true);
            Insert(rest, csize - asize);
        }
        else MakeAllocated(bp, csize, prevAllocated);
    }

    // Moves the break so that a free block of at least asize ends the heap; returns it, in its list (0: no room).
    // For a small block the break moves by a chunk (at most SmallChunk, at most 1/ChunkDivisor of the heap), so
    // that the small blocks that follow come from the same free block's end instead of each moving the break.
    nint ExtendFor(long asize)
    {
        nint end = End;
        long top = TopFreeSize();
        if (top >= asize) return end - (nint)top; // the free block at the top fits already
        long missing = asize - top;
        if (asize <= SmallBlock && end != smallTop)
        {
            long chunk = Math.Min(SmallChunk, Align(Heap.Size / ChunkDivisor));
            if (chunk > missing && CanGrow(chunk)) missing = chunk;
        }
        if (!CanGrow(missing)) return 0;
        if (asize <= SmallBlock) smallTop = end + (nint)missing; // a small block will end the heap (placed at the end)
        return GrowTop(missing);
    }

    // The size of the free block that ends the heap, 0 when the last block is allocated.
    long TopFreeSize()
    {
        long epilogue = Get(End - WordSize);
        return (epilogue & PrevAllocatedBit) != 0 ? 0 : SizeOf(Get(End - 2 * WordSize));
    }

    // Moves the break up by missing bytes (CanGrow said yes) and makes them a free block, merged with a free block at
    // the top of the heap; returns it, in its list.
    nint GrowTop(long missing)
    {
        bool lastAllocated = (Get(End - WordSize) & PrevAllocatedBit) != 0;
        nint bp = GrowHeap(missing); // the old epilogue becomes the new block's header
        Put(bp + (nint)missing - WordSize, Pack(0, true, false));
        MakeFree(bp, missing, lastAllocated);
        AddBoundary(bp + (nint)missing); // the epilogue
        return Coalesce(bp);
    }

    /// <inheritdoc/>
    protected override void FreeBlock(nint payload)
    {
        if (IsCell(payload)) FreeCell(payload);
        else
        {
            long size = Size(payload);
            CountSmall(size, -1);
            if (!TryQuickFree(payload, size)) FreeListBlock(payload);
        }
    }

    // free of a block with a header (not a cell).
    void FreeListBlock(nint payload)
    {
        long w = Get(payload - WordSize);
        MakeFree(payload, SizeOf(w), (w & PrevAllocatedBit) != 0);
        Coalesce(payload);
    }

    // The quick block at next (header nw) follows a block being freed or grown: it becomes an ordinary free block (in its
    // list, merged with a free block after it); returns its new header.
    long UnquickNext(nint next, long nw)
    {
        long nsize = SizeOf(nw);
        UnlinkQuick(next, nsize);
        nint after = next + (nint)nsize;
        long aw = Get(after - WordSize);
        if ((aw & AllocatedBit) == 0) // a free block follows: merge it
        {
            Remove(after, SizeOf(aw));
            RemoveBoundary(after, after + (nint)SizeOf(aw));
            nsize += SizeOf(aw);
        }
        MakeFree(next, nsize, (nw & PrevAllocatedBit) != 0);
        Insert(next, nsize);
        return Get(next - WordSize);
    }

    // Merges the free block bp (in no list) with its free neighbours and puts the result in its list: in the place of
    // the neighbour it absorbs when that one's class does not change.
    nint Coalesce(nint bp)
    {
        long w = Get(bp - WordSize);
        long size = SizeOf(w);
        nint next = bp + (nint)size;
        long nw = Get(next - WordSize);
        if ((nw & QuickBit) != 0) nw = UnquickNext(next, nw);
        long nsize = (nw & AllocatedBit) == 0 ? SizeOf(nw) : 0;
        nint end = next + (nint)nsize;
        if ((w & PrevAllocatedBit) != 0)
        {
            if (nsize == 0)
            {
                Insert(bp, size);
                return bp;
            }
            int nc = ClassOf(nsize);
            bool stays = ClassOf(size + nsize) == nc;
            if (stays) Replace(next, bp, nc);
            else Remove(next, nsize);
            RemoveBoundary(next, end);
            MakeFree(bp, size + nsize, true);
            if (!stays) Insert(bp, size + nsize);
            return bp;
        }
        if (nsize != 0)
        {
            Remove(next, nsize);
            RemoveBoundary(next, end);
        }
        RemoveBoundary(bp, end);
        long ps = SizeOf(Get(bp - 2 * WordSize)), total = ps + size + nsize;
        nint prev = bp - (nint)ps;
        bool kept = ClassOf(total) == ClassOf(ps);
        if (!kept) Remove(prev, ps);
        MakeFree(prev, total, (Get(prev - WordSize) & PrevAllocatedBit) != 0);
        if (!kept) Insert(prev, total);
        return prev;
    }

    /// <inheritdoc/>
    protected override long Capacity(nint payload) => IsCell(payload) ? CellCapacity(payload) : Size(payload) - WordSize;

    /// <inheritdoc/>
    protected override nint ReallocateBlock(nint payload, long size)
    {
        if (IsCell(payload)) return base.ReallocateBlock(payload, size); // in place while it fits, else allocate, copy, free
        long before = Size(payload), asize = BlockSizeFor(size);
        if (asize <= before && before - asize < MinBlockSize) return payload; // it fits, and no free block can be cut off
        nint q = ResizeListBlock(payload, asize);
        if (q != 0)
        {
            CountSmall(before, -1);
            CountSmall(Size(q), 1);
        }
        return q != 0 ? q : base.ReallocateBlock(payload, size); // allocate, copy, free (counted there)
    }

    // Resizes the list block in place, or moves it within the heap's free blocks; 0 when only allocate-copy-free can.
    nint ResizeListBlock(nint payload, long asize)
    {
        long w = Get(payload - WordSize);
        long csize = SizeOf(w);
        bool prevAllocated = (w & PrevAllocatedBit) != 0;
        if (asize <= csize) return ShrinkInPlace(payload, asize, csize, prevAllocated);
        nint next = payload + (nint)csize;
        long nw = Get(next - WordSize);
        if ((nw & QuickBit) != 0) nw = UnquickNext(next, nw);
        long nsize = (nw & AllocatedBit) == 0 ? SizeOf(nw) : 0;
        if (csize + nsize >= asize) // grow into the free next block
        {
            Remove(next, nsize);
            RemoveBoundary(next, next + (nint)nsize);
            Place(payload, asize, csize + nsize);
            return payload;
        }
        long ps = prevAllocated ? 0 : SizeOf(Get(payload - 2 * WordSize));
        if (SizeOf(Get(next + (nint)nsize - WordSize)) == 0) // the block (with its free next block) ends the heap
            return ReallocateAtEnd(payload, asize, csize, ps, nsize, prevAllocated);
        if (ps + csize + nsize >= asize) // slide down into the free previous block (and the free next one)
            return SlideDown(payload, asize, csize, ps, nsize);
        return 0;
    }

    // The block of csize bytes keeps asize ≤ csize; the rest becomes a free block when it is big enough for one.
    nint ShrinkInPlace(nint payload, long asize, long csize, bool prevAllocated)
    {
        if (csize - asize >= MinBlockSize)
        {
            Put(payload - WordSize, Pack(asize, true, prevAllocated));
            nint rest = payload + (nint)asize;
            AddBoundary(rest);
            MakeFree(rest, csize - asize, true);
            Coalesce(rest);
        }
        return payload;
    }

    // The free previous block (ps bytes) and the free next one (nsize, maybe 0) take the block: its payload moves down.
    nint SlideDown(nint payload, long asize, long csize, long ps, long nsize)
    {
        nint prev = payload - (nint)ps;
        nint next = payload + (nint)csize;
        Remove(prev, ps);
        if (nsize != 0) Remove(next, nsize);
        bool pp = (Get(prev - WordSize) & PrevAllocatedBit) != 0;
        Copy(payload, prev, csize - WordSize);
        if (nsize != 0) RemoveBoundary(next, next + (nint)nsize);
        RemoveBoundary(payload, next + (nint)nsize);
        Put(prev - WordSize, Pack(ps + csize + nsize, true, pp));
        Place(prev, asize, ps + csize + nsize);
        return prev;
    }

    // The block (csize bytes, with a free next block of nsize) ends the heap: it grows there without a copy, by moving
    // the break only by what is missing. A copy is made only where it saves at least as many bytes of heap as it copies:
    // into a free block elsewhere when the growth avoided is at least the block, or down into a free previous block at
    // least as large as the block (then the break moves by what is still missing). 0 when the heap cannot grow.
    nint ReallocateAtEnd(nint payload, long asize, long csize, long ps, long nsize, bool prevAllocated)
    {
        long missing = asize - csize - nsize;
        if (missing >= csize)
        {
            nint q = Find(asize);
            if (q != 0)
            {
                q = Take(q, asize);
                Copy(payload, q, csize - WordSize);
                FreeListBlock(payload);
                return q;
            }
        }
        nint start = payload;
        bool sp = prevAllocated;
        if (ps >= csize)
        {
            if (ps + csize + nsize >= asize) return SlideDown(payload, asize, csize, ps, nsize);
            start = payload - (nint)ps;
            missing -= ps;
        }
        if (!CanGrow(missing)) return 0;
        if (start != payload)
        {
            Remove(start, ps);
            sp = (Get(start - WordSize) & PrevAllocatedBit) != 0;
            Copy(payload, start, csize - WordSize);
        }
        // The blocks from payload (or start) to the old epilogue become one, which ends at the new epilogue.
        nint oldEnd = End, end = start + (nint)asize;
        if (nsize != 0)
        {
            Remove(payload + (nint)csize, nsize);
            RemoveBoundary(payload + (nint)csize, end);
        }
        GrowHeap(missing);
        Put(end - WordSize, Pack(0, true, true));
        if (start != payload) RemoveBoundary(payload, end);
        RemoveBoundary(oldEnd, end);
        AddBoundary(end);
        Put(start - WordSize, Pack(asize, true, sp));
        return start;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<BlockInfo> Blocks()
    {
        var blocks = Walk(Lo);
        if (quickTotal == 0) return blocks;
        for (int i = 0; i < blocks.Count; i++) // a quick block is free
            if (blocks[i].Allocated && (Get(Lo + (nint)blocks[i].Offset) & QuickBit) != 0) blocks[i] = blocks[i] with { Allocated = false };
        return blocks;
    }

    bool IWalkableHeap.Coalesces => true;
    bool IWalkableHeap.FootersOnAllocatedBlocks => false;
    int IWalkableHeap.FreeListCount => ClassCount;
    nint IWalkableHeap.FreeListHead(int list) => Head(list);
    bool IWalkableHeap.BelongsInList(int list, long blockSize) => ClassOf(blockSize) == list;
}

using System.Numerics;
using System.Runtime.CompilerServices;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Heap;

/// <summary>
/// Slabs for small blocks (the allocator made with <c>slabs: true</c>). A block of 1–16 bytes needs 32 bytes in the
/// free lists (header, payload rounded to 16, room for two links when freed); in a slab it needs 16. Blocks of up to
/// <see cref="MaxCellSize"/> bytes are runs of one to four 16-byte cells of a slab, and a slab holds runs of every
/// length, so that a program with a few blocks of each of many small sizes fills one slab, not one per size. A slab is
/// an ordinary allocated block of <see cref="SlabSize"/> bytes whose header has <see cref="SlabBit"/> set and whose
/// payload starts at a multiple of <see cref="SlabSize"/> from <see cref="SlabOrigin"/>. Its first 32 bytes hold a
/// bitmap of the cells in use, the links of its list of slabs, and a bitmap of the cells where a block starts (a block
/// runs to the next start or free cell); then come <see cref="CellsPerSlab"/> cells.
/// <para>A slab with a free cell is in one of <see cref="SlabListCount"/> lists, by its longest free run (1, 2, 3, or 4
/// and more cells), so that malloc finds a slab that holds its run in O(1): the first of the first non-empty list from the
/// run's length up; in it, the shortest free run that holds the block (the lowest of equals).</para>
/// <para>free(p) must tell a cell from a block with a header without trusting the bytes before p (they belong to the
/// previous cell, which its owner may write anything into). So which frames (the <see cref="SlabSize"/>-byte pieces of
/// the heap from SlabOrigin) hold a slab is recorded in a frame map, inside the heap like everything else: frames 0–63
/// in the heap's first word (the pad before the prologue), frames from 64 on in an ordinary block that grows (moves)
/// with the heap. A slab whose last cell is freed goes back to the free lists.</para>
/// <para>No bitmap of live blocks is kept either: free(p) in a slab checks the slab's start bitmap, and free(p)
/// of a list block walks the headers from the first block that starts in p's frame (a byte per frame outside the heap,
/// at most 64 steps of at least 16 bytes) to see whether a live block starts at p. Every header that walk reads was
/// written by the allocator, never by a payload's owner.</para>
/// </summary>
public sealed partial class SegregatedListAllocator : IWalkableSlabHeap
{
    /// <summary>The size of a slab (its block, header included), and the alignment of its payload from HeapLo.</summary>
    public const long SlabSize = 1024;
    /// <summary>Bytes at the start of a slab's payload: the cells-in-use bitmap, the next and previous slab of its
    /// list, and the bitmap of the cells where a block starts.</summary>
    public const int SlabHeaderSize = 32;
    /// <summary>The largest block in a slab: blocks of up to this many bytes are runs of 16-byte cells.</summary>
    public const int MaxCellSize = 64;
    /// <summary>Lists of slabs with a free cell: list i holds the slabs whose longest free run is i + 1 cells (the last
    /// one, <see cref="MaxCellSize"/> / 16 cells or more).</summary>
    public const int SlabListCount = MaxCellSize / 16;
    /// <summary>The 16-byte cells of a slab: from the end of its header to the next block's header.</summary>
    public const int CellsPerSlab = (int)((SlabSize - WordSize - SlabHeaderSize) / 16);
    /// <summary>Set in the header of a block that is a slab.</summary>
    public const long SlabBit = 4;
    /// <summary>Where frame 0 starts, from HeapLo: the first payload of the heap, so that a heap of tiny blocks starts with a slab.</summary>
    public const int SlabOrigin = FirstBlockOffset + WordSize;

    const ulong AllCells = (1UL << CellsPerSlab) - 1;
    const int SlabNextOffset = 8, SlabPrevOffset = 16, SlabStartsOffset = 24;

    /// <summary>How many small list blocks (of at most 80 bytes) must be live before the first slab, in
    /// "segregated-slabs": a slab costs 1 KiB and saves 8–16 bytes per block, so a program with a few small blocks is
    /// better off without one.</summary>
    public const int SlabAfter = 32;

    readonly bool slabs;
    readonly int slabAfter;
    int slabCount;
    int smallLive;                  // live list blocks of 32 to 80 bytes (made by malloc or realloc)
    PerSlabList<nint> partialSlabs; // the first slab of each list (0: none)
    nint spareSlab;                 // the one empty slab kept (0: none)
    nint frameMap;      // the payload of the frame-map block, 0 until the first slab
    long frameMapBits;  // how many frames it covers
    // Per frame (from SlabOrigin), 1 + the 16-byte slot of the first block payload in it, 0 if none (slabs only).
    byte[]? firstBlocks;

    /// <summary>Four values in the allocator object itself (fields are free side state up to 256 bytes; arrays are not).</summary>
    [InlineArray(SlabListCount)]
    struct PerSlabList<T>
    {
        T first;
    }

    bool IWalkableSlabHeap.HasSlabs => slabs;
    nint IWalkableSlabHeap.FrameMap => frameMap;
    int? IWalkableSlabHeap.FirstBlockSlot(long frame) =>
        firstBlocks is null ? null : frame < firstBlocks.Length ? firstBlocks[frame] : 0;
    long IWalkableSlabHeap.FrameMapFrames => frameMapBits;
    int IWalkableSlabHeap.SlabListCount => SlabListCount;
    nint IWalkableSlabHeap.PartialSlabs(int list) => partialSlabs[list];

    // firstBlocks, for IsLiveBlock. A block is cut in two: the second part starts at bp.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void AddBoundary(nint bp)
    {
        if (firstBlocks is not { } map) return;
        long off = (long)bp - (long)Lo - SlabOrigin;
        ref byte first = ref map[off >> FrameShift];
        byte slot = (byte)(((off & (SlabSize - 1)) >> 4) + 1);
        if (first == 0 || first > slot) first = slot;
    }

    // Two blocks become one: the block at bp, followed by the block at next, is merged into the block before it.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void RemoveBoundary(nint bp, nint next)
    {
        if (firstBlocks is not { } map) return;
        long off = (long)bp - (long)Lo - SlabOrigin, nextOff = (long)next - (long)Lo - SlabOrigin;
        ref byte first = ref map[off >> FrameShift];
        if (first != (byte)(((off & (SlabSize - 1)) >> 4) + 1)) return;
        first = (nextOff >> FrameShift) == (off >> FrameShift) ? (byte)(((nextOff & (SlabSize - 1)) >> 4) + 1) : (byte)0;
    }

    const int FrameShift = 10; // log2(SlabSize)

    // Moves the break up (CanGrow said yes), with room in firstBlocks for the frames up to the new epilogue.
    nint GrowHeap(long increment)
    {
        nint old = Grow(increment);
        if (firstBlocks is not null) SideBitmap.EnsureItems(ref firstBlocks, ((Heap.Size - SlabOrigin) >> FrameShift) + 1);
        return old;
    }

    /// <inheritdoc/>
    protected override bool IsLiveBlock(nint pointer)
    {
        long off = (long)pointer - (long)Lo - SlabOrigin;
        if (off < 0) return false;
        int first = firstBlocks![off >> FrameShift];
        if (first == 0) return false;
        nint bp = pointer - (nint)(off & (SlabSize - 1)) + (first - 1) * 16;
        long w = Get(bp - WordSize);
        while (bp < pointer)
        {
            if ((w & SlabBit) != 0) return IsLiveCell(bp, pointer); // a slab fills its frame: pointer is in it
            long size = SizeOf(w);
            if (size == 0) return false; // the epilogue
            bp += (nint)size;
            w = Get(bp - WordSize);
        }
        return bp == pointer && (w & (AllocatedBit | SlabBit | QuickBit)) == AllocatedBit && pointer != frameMap;
    }

    // Whether pointer (inside the slab) is where a block of the slab starts.
    static bool IsLiveCell(nint slab, nint pointer)
    {
        long at = pointer - slab - SlabHeaderSize;
        if (at < 0 || (at & 15) != 0 || at >> 4 >= CellsPerSlab) return false;
        return ((ulong)Get(slab + SlabStartsOffset) & (1UL << (int)(at >> 4))) != 0;
    }

    // True when p lies in a frame that holds a slab (and so is a cell: block payloads never lie in a slab's frame).
    bool IsCell(nint p)
    {
        if (!slabs || p < Lo + SlabOrigin) return false;
        long frame = ((long)p - (long)Lo - SlabOrigin) / SlabSize;
        nint word = FrameWord(frame);
        return word != 0 && (Get(word) & FrameBit(frame)) != 0;
    }

    // The word of the frame map that holds frame's bit: the heap's first word (the pad before the prologue) for
    // frames 0–63, then the frame-map block; 0 when the map does not reach that far.
    nint FrameWord(long frame) =>
        frame < 64 ? Lo : frame - 64 < frameMapBits ? frameMap + (nint)((frame - 64) >> 6) * 8 : 0;

    static long FrameBit(long frame) => 1L << (int)(frame & 63);

    nint SlabOf(nint cell) => Lo + SlabOrigin + (nint)(((long)cell - (long)Lo - SlabOrigin) / SlabSize * SlabSize);

    // True when a small request is to go into a slab: there is a slab already, or enough small list blocks are live
    // for one to pay.
    bool WantsCell() => slabCount != 0 || smallLive >= slabAfter;

    // Counts a list block of blockSize bytes made (1) or freed (-1) by malloc, realloc or free.
    void CountSmall(long blockSize, int delta)
    {
        if (blockSize <= MaxCellSize + 16) smallLive += delta;
    }

    // A block of size bytes (1 ≤ size ≤ MaxCellSize) in a slab; 0 when no slab can be made.
    nint AllocateCell(long size)
    {
        int n = (int)((size + 15) >> 4);
        nint slab = 0;
        for (int list = n - 1; list < SlabListCount && slab == 0; list++) slab = partialSlabs[list];
        if (slab == 0 && (slab = NewSlab()) == 0) return 0;
        ulong used = (ulong)Get(slab);
        if (used == 0 && spareSlab == slab) spareSlab = 0;
        int k = BestRun(used, n);
        ulong now = used | (((1UL << n) - 1) << k);
        Put(slab, (long)now);
        Put(slab + SlabStartsOffset, Get(slab + SlabStartsOffset) | (1L << k));
        Relink(slab, ListOf(used), ListOf(now));
        return slab + SlabHeaderSize + k * 16;
    }

    // The first cell of the shortest run of free cells that holds n of them (the lowest of equals); the slab has one.
    static int BestRun(ulong used, int n)
    {
        ulong free = ~used & AllCells, starts = free & ~(free << 1);
        int best = 0, bestLength = int.MaxValue;
        for (; starts != 0; starts &= starts - 1)
        {
            int at = BitOperations.TrailingZeroCount(starts), length = BitOperations.TrailingZeroCount(~(free >> at));
            if (length >= n && length < bestLength)
            {
                (best, bestLength) = (at, length);
                if (length == n) break;
            }
        }
        return best;
    }

    // The cells of the block that starts at cell k: up to the next start or free cell.
    internal static int RunLength(ulong used, ulong starts, int k) =>
        BitOperations.TrailingZeroCount(~(used >> k) | ((starts >> k) & ~1UL));

    // The list of a slab with these cells in use (its longest free run, in cells, less 1, at most SlabListCount - 1);
    // -1 when it is full.
    static int ListOf(ulong used)
    {
        ulong free = ~used & AllCells, two = free & (free >> 1), three = two & (free >> 2), four = three & (free >> 3);
        return four != 0 ? 3 : three != 0 ? 2 : two != 0 ? 1 : free != 0 ? 0 : -1;
    }

    // Moves a slab from list `from` to list `to` (-1: in none).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Relink(nint slab, int from, int to)
    {
        if (from == to) return;
        if (from >= 0) Unlink(slab, from);
        if (to >= 0) Link(slab, to);
    }

    void FreeCell(nint cell)
    {
        nint slab = SlabOf(cell);
        int k = (int)((cell - slab - SlabHeaderSize) >> 4);
        ulong used = (ulong)Get(slab), starts = (ulong)Get(slab + SlabStartsOffset);
        ulong now = used & ~(((1UL << RunLength(used, starts, k)) - 1) << k);
        Put(slab, (long)now);
        Put(slab + SlabStartsOffset, (long)(starts & ~(1UL << k)));
        Relink(slab, ListOf(used), ListOf(now));
        if (now != 0) return;
        // Keep one empty slab, so that a program that frees and mallocs one small block over and over does not make and
        // release a slab each time; a second empty slab goes back to the free lists.
        if (spareSlab == 0)
        {
            spareSlab = slab;
            return;
        }
        Unlink(slab, SlabListCount - 1);
        ReleaseSlab(slab);
    }

    long CellCapacity(nint cell)
    {
        nint slab = SlabOf(cell);
        return 16L * RunLength((ulong)Get(slab), (ulong)Get(slab + SlabStartsOffset), (int)((cell - slab - SlabHeaderSize) >> 4));
    }

    // Puts the slab at the front of a list: slabs change lists on most mallocs and frees, and keeping the lists in
    // address order cost a walk each time (binary-bal ran at 48 instead of 56 M ops/s) for no byte of heap on the
    // CS:APP and CMU traces.
    void Link(nint slab, int list)
    {
        ref nint head = ref partialSlabs[list];
        Put(slab + SlabNextOffset, head);
        Put(slab + SlabPrevOffset, 0);
        if (head != 0) Put(head + SlabPrevOffset, slab);
        head = slab;
    }

    void Unlink(nint slab, int list)
    {
        nint next = (nint)Get(slab + SlabNextOffset), prev = (nint)Get(slab + SlabPrevOffset);
        if (prev != 0) Put(prev + SlabNextOffset, next);
        else partialSlabs[list] = next;
        if (next != 0) Put(next + SlabPrevOffset, prev);
    }

    // A new, empty slab in the list of slabs with a free cell, cut from a free block or from new heap; 0 when out of room.
    nint NewSlab()
    {
        nint slab = CutSlab(FindSlabRoom());
        if (slab == 0 && quickTotal != 0)
        {
            FlushQuick(); // before the heap grows
            slab = CutSlab(FindSlabRoom());
        }
        if (slab == 0) slab = CutSlab(ExtendForSlab());
        if (slab == 0) return 0;
        Put(slab, 0);
        Put(slab + SlabStartsOffset, 0);
        if (!MarkFrame(slab, true))
        {
            Put(slab - WordSize, Get(slab - WordSize) & ~SlabBit);
            FreeListBlock(slab);
            return 0;
        }
        Link(slab, SlabListCount - 1);
        slabCount++;
        return slab;
    }

    // The lowest free block a slab can be cut from, or 0. It walks the free lists from 1 KiB up, but runs only when
    // no slab of the size has a free cell (and none is kept empty).
    nint FindSlabRoom()
    {
        nint found = 0;
        for (int c = NextNonEmpty(ClassOf(SlabSize)); c >= 0; c = c + 1 < ClassCount ? NextNonEmpty(c + 1) : -1)
            for (nint bp = Head(c); bp != 0; bp = (nint)Get(bp + NextLinkOffset))
                if ((found == 0 || bp < found) && SlabPlace(bp - WordSize, bp - WordSize + (nint)Size(bp)) != 0) found = bp;
        return found;
    }

    // Where a slab's payload would go in a free block whose header is at h and which ends at end: the first multiple of
    // SlabSize (from SlabOrigin) that leaves before it either nothing or a free block (≥ 32 bytes); 0 when the slab and
    // what is left after it (nothing or ≥ 32 bytes) do not fit before end.
    nint SlabPlace(nint h, nint end)
    {
        long off = (long)h + WordSize - (long)Lo - SlabOrigin;
        nint slab = Lo + SlabOrigin + (nint)((off + SlabSize - 1) / SlabSize * SlabSize);
        if (slab - WordSize - h is > 0 and < MinBlockSize) slab += (nint)SlabSize;
        long rest = end - (slab - WordSize + SlabSize);
        return rest == 0 || rest >= MinBlockSize ? slab : 0;
    }

    // Cuts a slab out of the free block bp (in its list) if one fits: the pieces before and after stay free. Returns the
    // slab's payload (an allocated block with SlabBit), or 0 with bp untouched.
    nint CutSlab(nint bp)
    {
        if (bp == 0) return 0;
        long size = Size(bp);
        nint h = bp - WordSize;
        nint slab = SlabPlace(h, h + (nint)size);
        if (slab == 0) return 0;
        bool prevAllocated = (Get(h) & PrevAllocatedBit) != 0;
        Remove(bp, size);
        long before = slab - WordSize - h;
        if (before > 0)
        {
            MakeFree(bp, before, prevAllocated);
            Insert(bp, before);
            prevAllocated = false;
        }
        if (before > 0) AddBoundary(slab);
        Put(slab - WordSize, Pack(SlabSize, true, prevAllocated) | SlabBit);
        nint next = slab + (nint)SlabSize;
        long after = h + (nint)size - (next - WordSize);
        if (after > 0)
        {
            MakeFree(next, after, true);
            Insert(next, after);
            AddBoundary(next);
        }
        else Put(next - WordSize, Get(next - WordSize) | PrevAllocatedBit); // an allocated block or the epilogue
        return slab;
    }

    // Moves the break so that the free block at the top of the heap can hold a slab; returns that block (0: no room).
    nint ExtendForSlab()
    {
        nint end = End;
        nint h = end - WordSize - (nint)TopFreeSize();  // the top free block's header, or the epilogue
        nint slab = SlabPlace(h, nint.MaxValue - 64);
        long missing = slab + (nint)SlabSize - end;  // the new epilogue goes right after the slab
        if (missing <= 0) missing = MinBlockSize; // the top block holds the slab but would leave 1–31 bytes after it
        return CanGrow(missing) ? GrowTop(missing) : 0;
    }

    // A slab with no cell in use goes back to the free lists.
    void ReleaseSlab(nint slab)
    {
        slabCount--;
        MarkFrame(slab, false);
        Put(slab - WordSize, Get(slab - WordSize) & ~SlabBit);
        FreeListBlock(slab);
    }

    // Sets or clears the slab's bit in the frame map, growing the map (an ordinary block, moved like a realloc) first if
    // it is too short; false when there is no room for a longer map.
    bool MarkFrame(nint slab, bool on)
    {
        long frame = ((long)slab - (long)Lo - SlabOrigin) / SlabSize;
        nint word = FrameWord(frame);
        if (word == 0)
        {
            if (!on) return true;
            long bits = Math.Max(64, (long)BitOperations.RoundUpToPowerOf2((ulong)(frame - 64) + 1));
            nint map = AllocateListBlock(bits / 8);
            if (map == 0) return false;
            unsafe { new Span<byte>((void*)map, (int)(bits / 8)).Clear(); }
            if (frameMap != 0)
            {
                Copy(frameMap, map, frameMapBits / 8);
                FreeListBlock(frameMap);
            }
            frameMap = map;
            frameMapBits = bits;
            word = FrameWord(frame);
        }
        long bit = FrameBit(frame);
        Put(word, on ? Get(word) | bit : Get(word) & ~bit);
        return true;
    }

    /// <inheritdoc/>
    protected override string? DescribeMisuse(long offset)
    {
        nint p = Lo + (nint)offset;
        if (!IsCell(p)) return null;
        nint slab = SlabOf(p);
        long at = p - slab - SlabHeaderSize;
        long slabOffset = (long)slab - (long)Lo - WordSize;
        if (at < 0) return $"points into the header of the slab at offset {slabOffset}, not at a cell";
        int k = (int)(at >> 4);
        if (k >= CellsPerSlab) return $"points past the last cell of the slab at offset {slabOffset}, not at a cell";
        ulong used = (ulong)Get(slab), starts = (ulong)Get(slab + SlabStartsOffset);
        if ((used >> k & 1) == 0)
            return at % 16 == 0 ? $"double free (cell {k} of the slab at offset {slabOffset} is free)"
                : $"points {at % 16} bytes into cell {k} of the slab at offset {slabOffset}, which is free";
        int start = 63 - BitOperations.LeadingZeroCount(starts & ((2UL << k) - 1));
        return at == 16L * start ? null : $"points {at - 16 * start} bytes into the block at cell {start} of the slab at offset {slabOffset}, not at its start";
    }
}

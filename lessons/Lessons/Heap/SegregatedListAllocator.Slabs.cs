using System.Numerics;
using System.Runtime.CompilerServices;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Heap;

/// <summary>
/// Slabs for small blocks (the allocator made with <c>slabs: true</c>). A block of 1–16 bytes needs 32 bytes in the
/// free lists (header, payload rounded to 16, room for two links when freed); a cell of a slab needs 16. Blocks of up to
/// <see cref="MaxCellSize"/> bytes are cells, of the smallest of the sizes 16, 32, 48, 64 that holds them. A slab is an
/// ordinary allocated block of <see cref="SlabSize"/> bytes whose header has <see cref="SlabBit"/> set and whose payload
/// starts at a multiple of <see cref="SlabSize"/> from <see cref="SlabOrigin"/>. Its first 32 bytes hold a bitmap of the cells in use,
/// the links of its list of slabs that have a free cell, and its cell size; then come <see cref="CellsPerSlab"/> cells.
/// <para>free(p) must tell a cell from a block with a header without trusting the bytes before p (they belong to the
/// previous cell, which its owner may write anything into). So which frames (the <see cref="SlabSize"/>-byte pieces of
/// the heap from SlabOrigin) hold a slab is recorded in a frame map, inside the heap like everything else: frames 0–63
/// in the heap's first word (the pad before the prologue), frames from 64 on in an ordinary block that grows (moves)
/// with the heap. A slab whose last cell is freed goes back to the free lists.</para>
/// <para>No bitmap of live blocks is kept either: free(p) of a cell checks the slab's cells-in-use bitmap, and free(p)
/// of a list block walks the headers from the first block that starts in p's frame (a byte per frame outside the heap,
/// at most 64 steps of at least 16 bytes) to see whether a live block starts at p. Every header that walk reads was
/// written by the allocator, never by a payload's owner.</para>
/// </summary>
public sealed partial class SegregatedListAllocator : IWalkableSlabHeap
{
    /// <summary>The size of a slab (its block, header included), and the alignment of its payload from HeapLo.</summary>
    public const long SlabSize = 1024;
    /// <summary>Bytes at the start of a slab's payload: the cells-in-use bitmap, the next and previous slab of its
    /// list of slabs with a free cell, and its cell size.</summary>
    public const int SlabHeaderSize = 32;
    /// <summary>The largest cell: blocks of up to this many bytes are cells (of 16, 32, 48 or 64 bytes).</summary>
    public const int MaxCellSize = 64;
    /// <summary>Cell sizes (16, 32, …, <see cref="MaxCellSize"/>), one list of slabs with a free cell each.</summary>
    public const int CellClassCount = MaxCellSize / 16;

    /// <summary>Cells in a slab of cells of <paramref name="cellSize"/> bytes: from the end of its header to the next block's header.</summary>
    public static int CellsPerSlab(int cellSize) => cellSize switch
    {
        16 => (int)(CellBytes / 16), // constant divisions: no idiv on the malloc and free paths
        32 => (int)(CellBytes / 32),
        48 => (int)(CellBytes / 48),
        64 => (int)(CellBytes / 64),
        _ => (int)(CellBytes / cellSize),
    };

    const long CellBytes = SlabSize - WordSize - SlabHeaderSize;

    // at / cellSize, for a cell size of 16, 32, 48 or 64 without an idiv.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static long CellIndex(long at, int cellSize) => cellSize switch
    {
        16 => at >> 4,
        32 => at >> 5,
        48 => at / 48,
        64 => at >> 6,
        _ => at / cellSize,
    };
    /// <summary>Set in the header of a block that is a slab.</summary>
    public const long SlabBit = 4;
    /// <summary>Where frame 0 starts, from HeapLo: the first payload of the heap, so that a heap of tiny blocks starts with a slab.</summary>
    public const int SlabOrigin = FirstBlockOffset + WordSize;

    static ulong AllCells(int cellSize) => (1UL << CellsPerSlab(cellSize)) - 1;
    const int SlabNextOffset = 8, SlabPrevOffset = 16, SlabCellSizeOffset = 24;

    /// <summary>How many list blocks of a small size must be live before that size gets slabs, in "segregated-slabs": a
    /// slab costs 1 KiB and saves 16 bytes per block, so a program with a few small blocks is better off without one.</summary>
    public const int SlabAfter = 32;

    readonly bool slabs;
    readonly int slabAfter;
    PerCellSize<int> slabCount;     // slabs of each cell size
    PerCellSize<int> smallLive;     // live list blocks of 32, 48, 64 and 80 bytes (made by malloc or realloc)
    PerCellSize<nint> partialSlabs; // per cell size, the first slab with a free cell (0: none)
    PerCellSize<nint> spareSlabs;   // per cell size, the one empty slab kept (0: none)
    nint frameMap;      // the payload of the frame-map block, 0 until the first slab
    long frameMapBits;  // how many frames it covers
    // Per frame (from SlabOrigin), 1 + the 16-byte slot of the first block payload in it, 0 if none (slabs only).
    byte[]? firstBlocks;

    /// <summary>Four values in the allocator object itself (fields are free side state up to 256 bytes; arrays are not).</summary>
    [InlineArray(CellClassCount)]
    struct PerCellSize<T>
    {
        T first;
    }

    bool IWalkableSlabHeap.HasSlabs => slabs;
    nint IWalkableSlabHeap.FrameMap => frameMap;
    int? IWalkableSlabHeap.FirstBlockSlot(long frame) =>
        firstBlocks is null ? null : frame < firstBlocks.Length ? firstBlocks[frame] : 0;
    long IWalkableSlabHeap.FrameMapFrames => frameMapBits;
    int IWalkableSlabHeap.CellSizeCount => CellClassCount;
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

    // Whether pointer (inside the slab) is the start of a cell in use.
    static bool IsLiveCell(nint slab, nint pointer)
    {
        long at = pointer - slab - SlabHeaderSize;
        int cellSize = CellSizeOf(slab);
        if (at < 0) return false;
        long k = CellIndex(at, cellSize);
        if (k * cellSize != at || k >= CellsPerSlab(cellSize)) return false;
        return ((ulong)Get(slab) & (1UL << (int)k)) != 0;
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

    static int CellSizeOf(nint slab) => (int)Get(slab + SlabCellSizeOffset);

    // True when a request of size bytes (at most MaxCellSize) is to be a cell: its cell size has a slab already, or
    // enough list blocks of its block size are live for a slab to pay.
    bool WantsCell(long size) =>
        slabCount[(int)(size - 1) >> 4] != 0 || smallLive[(int)(BlockSizeFor(size) >> 4) - 2] >= slabAfter;

    // Counts a list block of blockSize bytes made (1) or freed (-1) by malloc, realloc or free.
    void CountSmall(long blockSize, int delta)
    {
        if (blockSize <= MaxCellSize + 16) smallLive[(int)(blockSize >> 4) - 2] += delta;
    }

    // A cell of the smallest size that holds size bytes (1 ≤ size ≤ MaxCellSize); 0 when no slab can be made.
    nint AllocateCell(long size)
    {
        int list = (int)(size - 1) >> 4, cellSize = (list + 1) * 16;
        nint slab = partialSlabs[list];
        if (slab == 0)
        {
            slab = NewSlab(cellSize);
            if (slab == 0) return 0;
        }
        ulong used = (ulong)Get(slab);
        if (used == 0 && spareSlabs[list] == slab) spareSlabs[list] = 0;
        int k = BitOperations.TrailingZeroCount(~used);
        used |= 1UL << k;
        Put(slab, (long)used);
        if (used == AllCells(cellSize)) Unlink(slab);
        return slab + SlabHeaderSize + k * cellSize;
    }

    void FreeCell(nint cell)
    {
        nint slab = SlabOf(cell);
        int cellSize = CellSizeOf(slab);
        int k = (int)CellIndex(cell - slab - SlabHeaderSize, cellSize);
        ulong used = (ulong)Get(slab);
        bool wasFull = used == AllCells(cellSize);
        used &= ~(1UL << k);
        Put(slab, (long)used);
        if (wasFull) Link(slab);
        if (used != 0) return;
        // Keep one empty slab per cell size, so that a program that frees and mallocs one small block over and over
        // does not make and release a slab each time; a second empty slab goes back to the free lists.
        ref nint spare = ref spareSlabs[(cellSize >> 4) - 1];
        if (spare == 0)
        {
            spare = slab;
            return;
        }
        Unlink(slab);
        ReleaseSlab(slab);
    }

    long CellCapacity(nint cell) => CellSizeOf(SlabOf(cell));

    // Puts the slab in the list of slabs with a free cell, in address order: cells are taken from the lowest slab, so
    // the live cells gather low and the slabs above can empty and go back to the free lists.
    void Link(nint slab)
    {
        ref nint head = ref partialSlabs[(CellSizeOf(slab) >> 4) - 1];
        nint prev = 0, next = head;
        while (next != 0 && next < slab)
        {
            prev = next;
            next = (nint)Get(next + SlabNextOffset);
        }
        Put(slab + SlabNextOffset, next);
        Put(slab + SlabPrevOffset, prev);
        if (next != 0) Put(next + SlabPrevOffset, slab);
        if (prev != 0) Put(prev + SlabNextOffset, slab);
        else head = slab;
    }

    void Unlink(nint slab)
    {
        nint next = (nint)Get(slab + SlabNextOffset), prev = (nint)Get(slab + SlabPrevOffset);
        if (prev != 0) Put(prev + SlabNextOffset, next);
        else partialSlabs[(CellSizeOf(slab) >> 4) - 1] = next;
        if (next != 0) Put(next + SlabPrevOffset, prev);
    }

    // A new, empty slab in the list of slabs with a free cell, cut from a free block or from new heap; 0 when out of room.
    nint NewSlab(int cellSize)
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
        Put(slab + SlabCellSizeOffset, cellSize);
        if (!MarkFrame(slab, true))
        {
            Put(slab - WordSize, Get(slab - WordSize) & ~SlabBit);
            FreeListBlock(slab);
            return 0;
        }
        Link(slab);
        slabCount[(cellSize >> 4) - 1]++;
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
        slabCount[(CellSizeOf(slab) >> 4) - 1]--;
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
        int cellSize = CellSizeOf(slab);
        long k = at / cellSize;
        if (k >= CellsPerSlab(cellSize)) return $"points past the last cell of the slab at offset {slabOffset}, not at a cell";
        if (at % cellSize != 0) return $"points {at % cellSize} bytes into cell {k} of the slab at offset {slabOffset}, not at its start";
        return $"double free (cell {k} of the slab at offset {slabOffset} is already free)";
    }
}

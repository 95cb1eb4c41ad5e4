using static Lessons.Heap.BoundaryTags;

namespace Lessons.Heap;

/// <summary>How an implicit free list picks a free block.</summary>
public enum FitPolicy
{
    /// <summary>The first free block large enough, from the start of the heap.</summary>
    FirstFit,
    /// <summary>The first free block large enough, from where the last search stopped (wrapping around).</summary>
    NextFit,
    /// <summary>The smallest free block large enough (the whole heap is searched unless one fits exactly).</summary>
    BestFit,
}

/// <summary>
/// CS:APP's implicit free list: every block has a header and a footer (size | allocated bit, see
/// <see cref="BoundaryTags"/>), and malloc walks all blocks, allocated or not, to find a free one that fits
/// (<see cref="FitPolicy"/>). A block larger than needed is split; a freed block is merged at once with free
/// neighbours (the footers make the block before it reachable); when nothing fits, the break moves up by what is
/// missing. Realloc grows in place into a free next block, else allocates, copies and frees.
/// </summary>
public sealed class ImplicitListAllocator : ArenaAllocator, IWalkableHeap
{
    const int Overhead = 2 * WordSize; // header and footer
    nint rover; // next fit: payload of the block where the next search starts

    /// <summary>Takes over <paramref name="heap"/>, which must be empty.</summary>
    public ImplicitListAllocator(SimulatedBreak heap, FitPolicy policy = FitPolicy.FirstFit) : base(heap)
    {
        if (!Enum.IsDefined(policy)) throw new ArgumentOutOfRangeException(nameof(policy), policy, "not a fit policy");
        Policy = policy;
        Grow(EmptyHeapSize);
        WriteEmptyHeap(Lo, prevBits: false);
        rover = First;
    }

    /// <summary>How free blocks are chosen.</summary>
    public FitPolicy Policy { get; }

    /// <summary>First fit: the lowest free block that is large enough.</summary>
    [Allocator("first-fit", "implicit free list, first fit, coalescing at once", Order = 2)]
    public static ImplicitListAllocator FirstFit(SimulatedBreak heap) => new(heap, FitPolicy.FirstFit);

    /// <summary>Next fit: the search goes on from where the last one stopped.</summary>
    [Allocator("next-fit", "implicit free list, next fit, coalescing at once", Order = 3)]
    public static ImplicitListAllocator NextFit(SimulatedBreak heap) => new(heap, FitPolicy.NextFit);

    /// <summary>Best fit: the smallest free block that is large enough.</summary>
    [Allocator("best-fit", "implicit free list, best fit, coalescing at once", Order = 4)]
    public static ImplicitListAllocator BestFit(SimulatedBreak heap) => new(heap, FitPolicy.BestFit);

    /// <inheritdoc/>
    public override string Name => Policy switch { FitPolicy.FirstFit => "first-fit", FitPolicy.NextFit => "next-fit", _ => "best-fit" };

    /// <inheritdoc/>
    protected override int HeaderSize => WordSize;

    nint First => Lo + FirstBlockOffset + WordSize;

    static long Size(nint bp) => SizeOf(Get(bp - WordSize));
    static bool IsAllocated(nint bp) => (Get(bp - WordSize) & AllocatedBit) != 0;
    static void Mark(nint bp, long size, bool allocated)
    {
        long w = Pack(size, allocated);
        Put(bp - WordSize, w);
        Put(bp + (nint)size - Overhead, w);
    }

    /// <summary>The block size a request of <paramref name="size"/> bytes needs: header, payload, footer, rounded to 16.</summary>
    public static long BlockSizeFor(long size) => Math.Max(MinBlockSize, Align(size + Overhead));

    /// <inheritdoc/>
    protected override nint AllocateBlock(long size)
    {
        long asize = BlockSizeFor(size);
        nint bp = Policy switch
        {
            FitPolicy.FirstFit => FindFirst(First, 0, asize),
            FitPolicy.NextFit => FindNext(asize),
            _ => FindBest(asize),
        };
        if (bp == 0)
        {
            bp = ExtendFor(asize);
            if (bp == 0) return 0;
        }
        Place(bp, asize);
        if (Policy == FitPolicy.NextFit) rover = bp;
        return bp;
    }

    // First free block that fits in [from, until) (until 0: the epilogue).
    static nint FindFirst(nint from, nint until, long asize)
    {
        for (nint bp = from; bp != until; bp += (nint)Size(bp))
        {
            long w = Get(bp - WordSize);
            long s = SizeOf(w);
            if (s == 0) return 0;
            if ((w & AllocatedBit) == 0 && s >= asize) return bp;
        }
        return 0;
    }

    nint FindNext(long asize)
    {
        nint bp = FindFirst(rover, 0, asize);
        return bp != 0 ? bp : FindFirst(First, rover, asize);
    }

    nint FindBest(long asize)
    {
        nint best = 0;
        long bestSize = long.MaxValue;
        for (nint bp = First; ; bp += (nint)Size(bp))
        {
            long w = Get(bp - WordSize);
            long s = SizeOf(w);
            if (s == 0) return best;
            if ((w & AllocatedBit) == 0 && s >= asize && s < bestSize)
            {
                if (s == asize) return bp;
                best = bp;
                bestSize = s;
            }
        }
    }

    // Moves the break so that a free block of at least asize ends the heap; returns it (0: no room).
    nint ExtendFor(long asize)
    {
        nint end = Heap.Break;
        long lastFooter = Get(end - 2 * WordSize); // the last block's footer (the prologue's when empty)
        long missing = (lastFooter & AllocatedBit) == 0 ? asize - SizeOf(lastFooter) : asize;
        if (!CanGrow(missing)) return 0;
        nint bp = Grow(missing); // the old epilogue becomes the new block's header
        Mark(bp, missing, false);
        Put(bp + (nint)missing - WordSize, Pack(0, true));
        return Coalesce(bp);
    }

    void Place(nint bp, long asize)
    {
        long csize = Size(bp);
        if (csize - asize >= MinBlockSize)
        {
            Mark(bp, asize, true);
            Mark(bp + (nint)asize, csize - asize, false);
        }
        else Mark(bp, csize, true);
    }

    /// <inheritdoc/>
    protected override void FreeBlock(nint payload)
    {
        Mark(payload, Size(payload), false);
        Coalesce(payload);
    }

    // Merges the free block at bp with free neighbours; returns the merged block.
    nint Coalesce(nint bp)
    {
        long size = Size(bp);
        bool prevAllocated = (Get(bp - 2 * WordSize) & AllocatedBit) != 0;
        nint next = bp + (nint)size;
        if (!IsAllocated(next)) size += Size(next);
        if (!prevAllocated)
        {
            bp -= (nint)SizeOf(Get(bp - 2 * WordSize));
            size += Size(bp);
        }
        Mark(bp, size, false);
        if (rover > bp && rover < bp + (nint)size) rover = bp; // the rover must stay on a block boundary
        return bp;
    }

    /// <inheritdoc/>
    protected override long Capacity(nint payload) => Size(payload) - Overhead;

    /// <inheritdoc/>
    protected override nint ReallocateBlock(nint payload, long size)
    {
        long asize = BlockSizeFor(size), csize = Size(payload);
        if (asize <= csize)
        {
            if (csize - asize >= MinBlockSize)
            {
                Mark(payload, asize, true);
                nint rest = payload + (nint)asize;
                Mark(rest, csize - asize, false);
                Coalesce(rest);
            }
            return payload;
        }
        nint next = payload + (nint)csize;
        if (!IsAllocated(next) && csize + Size(next) >= asize)
        {
            long total = csize + Size(next);
            if (rover == next) rover = payload;
            Mark(payload, total, true);
            Place(payload, asize);
            return payload;
        }
        return base.ReallocateBlock(payload, size);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<BlockInfo> Blocks() => Walk(Lo);

    bool IWalkableHeap.Coalesces => true;
    bool IWalkableHeap.FootersOnAllocatedBlocks => true;
    int IWalkableHeap.FreeListCount => 0;
    nint IWalkableHeap.FreeListHead(int list) => throw new ArgumentOutOfRangeException(nameof(list), list, "an implicit list has no free lists");
    bool IWalkableHeap.BelongsInList(int list, long blockSize) => false;
}

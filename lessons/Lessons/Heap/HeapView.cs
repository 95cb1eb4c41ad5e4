using System.Runtime.CompilerServices;

namespace Lessons.Heap;

/// <summary>One block of an allocator's heap: where it starts (offset of its first byte, header included, from HeapLo),
/// its size in bytes (header, payload and footer), and whether it is allocated.</summary>
public readonly record struct BlockInfo(long Offset, long Size, bool Allocated)
{
    public override string ToString() => $"[{Offset}+{Size}{(Allocated ? "" : " free")}]";
}

/// <summary>An allocator whose blocks can be listed, in address order, for drawing and checking.</summary>
public interface IHeapView
{
    /// <summary>The simulated break the allocator owns.</summary>
    SimulatedBreak Heap { get; }

    /// <summary>Every block in address order (bookkeeping such as a prologue or epilogue is not a block).</summary>
    IReadOnlyList<BlockInfo> Blocks();
}

/// <summary>
/// A heap in the boundary-tag layout of <see cref="BoundaryTags"/>, which <see cref="HeapChecker"/> can walk word by word:
/// the allocator says which variant of the layout it uses and where its free lists start.
/// </summary>
public interface IWalkableHeap : IHeapView
{
    /// <summary>True when free blocks are merged with free neighbours at once (so no two free blocks may touch).</summary>
    bool Coalesces { get; }

    /// <summary>True when allocated blocks carry a footer too; false when only free blocks do and each header's
    /// <see cref="BoundaryTags.PrevAllocatedBit"/> says whether the block before it is allocated.</summary>
    bool FootersOnAllocatedBlocks { get; }

    /// <summary>How many explicit free lists there are (0: the free blocks are found by walking the heap).</summary>
    int FreeListCount { get; }

    /// <summary>The payload address of the first block of free list <paramref name="list"/> (0 when empty).</summary>
    nint FreeListHead(int list);

    /// <summary>True when a free block of <paramref name="blockSize"/> bytes belongs in list <paramref name="list"/>.</summary>
    bool BelongsInList(int list, long blockSize);
}

/// <summary>
/// A boundary-tag heap that may also hold slabs of 16-byte cells (see <see cref="SegregatedListAllocator"/>): allocated
/// blocks of <see cref="SegregatedListAllocator.SlabSize"/> bytes with <see cref="SegregatedListAllocator.SlabBit"/> in
/// their header, recorded in a frame map, and linked in a list while they have a free cell.
/// </summary>
public interface IWalkableSlabHeap : IWalkableHeap
{
    /// <summary>True when this heap uses slabs.</summary>
    bool HasSlabs { get; }

    /// <summary>The payload of the frame-map block, 0 when there is none. Frame f is the SlabSize bytes from
    /// HeapLo + SlabOrigin + f × SlabSize; bit f of the heap's first word is set when frame f (below 64) is a slab, bit
    /// f − 64 of the frame-map block for the frames above.</summary>
    nint FrameMap { get; }

    /// <summary>Where the first block payload of frame <paramref name="frame"/> is, as 1 + its 16-byte slot in the frame
    /// (0: no payload starts there), in the map the live-block check walks from; null when there is no such map.</summary>
    int? FirstBlockSlot(long frame);

    /// <summary>How many quick lists there are (0: none): list i holds blocks of 16 × (i + 2) bytes, with
    /// <see cref="SegregatedListAllocator.QuickBit"/> in their (allocated) header, linked through their payload's first word.</summary>
    int QuickListCount { get; }

    /// <summary>The payload of the first block of quick list <paramref name="list"/> (0 when empty).</summary>
    nint QuickListHead(int list);

    /// <summary>How many frames (from frame 64) the frame-map block covers.</summary>
    long FrameMapFrames { get; }

    /// <summary>How many lists of slabs with a free cell there are: list i holds the slabs whose longest run of free
    /// cells is i + 1 cells long (the last list, that many or more).</summary>
    int SlabListCount { get; }

    /// <summary>The payload of the first slab of list <paramref name="list"/> (0 when empty).</summary>
    nint PartialSlabs(int list);
}

/// <summary>
/// The boundary-tag layout of CS:APP's malloc lab, with 16-byte alignment. The heap starts with an 8-byte pad and a
/// 16-byte allocated prologue block (header and footer), and ends with an epilogue header (size 0, allocated) in its
/// last 8 bytes. Each block starts with an 8-byte header word: the block size (a multiple of 16) ORed with
/// <see cref="AllocatedBit"/> and, in heaps without footers on allocated blocks, <see cref="PrevAllocatedBit"/>.
/// A footer is a copy of the header in the block's last 8 bytes. Payloads start right after the header, at a multiple
/// of 16. In a free block with explicit lists, the payload holds the next link and then the previous link
/// (payload addresses, 0 at the ends of a list).
/// </summary>
public static class BoundaryTags
{
    /// <summary>Bytes in a header, footer or link.</summary>
    public const int WordSize = 8;
    /// <summary>Payloads start at multiples of this.</summary>
    public const int Alignment = 16;
    /// <summary>The smallest block: header, two links and footer.</summary>
    public const int MinBlockSize = 32;
    /// <summary>Set in a header when the block is allocated.</summary>
    public const long AllocatedBit = 1;
    /// <summary>Set in a header when the block before it is allocated (heaps without footers on allocated blocks).</summary>
    public const long PrevAllocatedBit = 2;
    /// <summary>Offset from HeapLo of the prologue's header.</summary>
    public const int PrologueOffset = 8;
    /// <summary>Offset from HeapLo of the first real block's header; its payload is at 32.</summary>
    public const int FirstBlockOffset = 24;
    /// <summary>A heap with no blocks: pad, prologue header and footer, epilogue.</summary>
    public const int EmptyHeapSize = 32;
    /// <summary>Offset of the next link in a free block's payload.</summary>
    public const int NextLinkOffset = 0;
    /// <summary>Offset of the previous link in a free block's payload.</summary>
    public const int PrevLinkOffset = 8;

    /// <summary>The size field of a header word.</summary>
    public static long SizeOf(long word) => word & ~(long)(Alignment - 1);

    /// <summary>A header or footer word.</summary>
    public static long Pack(long size, bool allocated, bool prevAllocated = false) =>
        size | (allocated ? AllocatedBit : 0) | (prevAllocated ? PrevAllocatedBit : 0);

    /// <summary>Rounds up to the alignment.</summary>
    public static long Align(long n) => (n + Alignment - 1) & ~(long)(Alignment - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe long Get(nint address) => *(long*)address;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Put(nint address, long value) => *(long*)address = value;

    /// <summary>Writes the pad, prologue and epilogue of an empty heap (the break must be at HeapLo + 32).</summary>
    internal static void WriteEmptyHeap(nint lo, bool prevBits)
    {
        Put(lo, 0);
        long prologue = Pack(16, true, prevBits);
        Put(lo + PrologueOffset, prologue);
        Put(lo + PrologueOffset + WordSize, prologue);
        Put(lo + FirstBlockOffset, Pack(0, true, prevBits));
    }

    /// <summary>The blocks of a boundary-tag heap, walking the headers from the first block to the epilogue.</summary>
    internal static List<BlockInfo> Walk(nint lo)
    {
        var list = new List<BlockInfo>();
        nint h = lo + FirstBlockOffset;
        for (long w = Get(h); SizeOf(w) != 0; h += (nint)SizeOf(w), w = Get(h))
            list.Add(new BlockInfo(h - lo, SizeOf(w), (w & AllocatedBit) != 0));
        return list;
    }
}

/// <summary>The first broken invariant <see cref="HeapChecker"/> found: what, and the offset (from HeapLo) of the block concerned.</summary>
public sealed record HeapViolation(string Message, long Offset)
{
    public override string ToString() => $"offset {Offset}: {Message}";
}

using System.Runtime.CompilerServices;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Heap;

/// <summary>
/// Quick lists (with slabs, in "segregated-slabs"), like glibc's tcache: a freed block of at most
/// <see cref="QuickMaxBlock"/> bytes goes, while its size has fewer than <see cref="QuickDepth"/>, onto a LIFO list of
/// blocks of its size instead of into the free lists, and malloc of that size takes it back in O(1), without placement,
/// splitting or coalescing. Such a block keeps its allocated header, with <see cref="QuickBit"/> set (so it is not live,
/// and its neighbours do not merge with it), and a link in its payload's first word. It merges like any free block
/// when the block before it is freed, when realloc grows into it, and, all of them, before the heap would grow: so
/// quick lists never make the heap larger. A program that frees and mallocs small blocks of one size in turn (a
/// buffer that grows between small allocations, a queue) then reuses the same few blocks.
/// </summary>
public sealed partial class SegregatedListAllocator
{
    /// <summary>Set in the header of a block that is in a quick list (free, though its allocated bit stays set).</summary>
    public const long QuickBit = 8;
    /// <summary>The largest block a quick list holds (block sizes 32, 48, … this).</summary>
    public const int QuickMaxBlock = 256;
    /// <summary>The most blocks a quick list holds.</summary>
    public const int QuickDepth = 8;
    const int QuickLists = QuickMaxBlock / 16 - 1;

    PerQuickList<uint> quickHeads; // per block size, the first block's payload offset from HeapLo (0: empty)
    PerQuickList<byte> quickCounts;
    int quickTotal;

    [InlineArray(QuickLists)]
    struct PerQuickList<T>
    {
        T first;
    }

    static int QuickList(long blockSize) => (int)(blockSize >> 4) - 2;

    // Puts the live block at payload (blockSize bytes, no cell) on its quick list if it may go there.
    bool TryQuickFree(nint payload, long blockSize)
    {
        if (!slabs || blockSize > QuickMaxBlock) return false;
        int q = QuickList(blockSize);
        if (quickCounts[q] == QuickDepth) return false;
        Put(payload - WordSize, Get(payload - WordSize) | QuickBit);
        uint head = quickHeads[q];
        Put(payload, head == 0 ? 0 : Lo + (nint)head);
        quickHeads[q] = (uint)(payload - Lo);
        quickCounts[q]++;
        quickTotal++;
        return true;
    }

    // A block of asize bytes from its quick list, 0 when that is empty.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    nint TryQuickMalloc(long asize)
    {
        if (quickTotal == 0 || asize > QuickMaxBlock) return 0;
        int q = QuickList(asize);
        uint head = quickHeads[q];
        if (head == 0) return 0;
        nint p = Lo + (nint)head;
        nint next = (nint)Get(p);
        quickHeads[q] = next == 0 ? 0 : (uint)(next - Lo);
        quickCounts[q]--;
        quickTotal--;
        Put(p - WordSize, Get(p - WordSize) & ~QuickBit);
        return p;
    }

    // Takes the quick block at payload (blockSize bytes) off its list and frees it into the free lists (merged with its
    // free neighbours).
    void ReleaseQuick(nint payload, long blockSize)
    {
        UnlinkQuick(payload, blockSize);
        Put(payload - WordSize, Get(payload - WordSize) & ~QuickBit);
        FreeListBlock(payload);
    }

    // Takes the quick block at payload (blockSize bytes) off its list (at most QuickDepth steps); its header is unchanged.
    void UnlinkQuick(nint payload, long blockSize)
    {
        int q = QuickList(blockSize);
        nint prev = 0;
        for (nint p = Lo + (nint)quickHeads[q]; p != payload; prev = p, p = (nint)Get(p)) { }
        nint next = (nint)Get(payload);
        if (prev == 0) quickHeads[q] = next == 0 ? 0 : (uint)(next - Lo);
        else Put(prev, next);
        quickCounts[q]--;
        quickTotal--;
    }

    // Frees every quick block into the free lists, so that they merge with their neighbours (before the heap grows).
    void FlushQuick()
    {
        for (int q = 0; q < QuickLists; q++)
            while (quickHeads[q] != 0)
            {
                nint p = Lo + (nint)quickHeads[q];
                ReleaseQuick(p, Size(p));
            }
    }

    int IWalkableSlabHeap.QuickListCount => slabs ? QuickLists : 0;

    nint IWalkableSlabHeap.QuickListHead(int list) => quickHeads[list] == 0 ? 0 : Lo + (nint)quickHeads[list];
}

using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lessons.Heap;

/// <summary>
/// Segregated free lists without headers: an allocated block is exactly its payload rounded up to 16 bytes.
/// <list type="bullet">
/// <item><b>starts</b>, a bitmap outside the heap with a bit per 16-byte granule: set at the first granule of every
/// block (and at the break, as a sentinel). A block's size is the distance to the next set bit, found a word (64
/// granules) at a time.</item>
/// <item><b>tags</b>, inside free blocks only: a free block holds, in the last 8 bytes of its first and of its last
/// granule, a 64-bit tag made of that granule's index, a key of this heap and the block's size. Free checks its
/// neighbours with one tag each: the granule after the block (the first of a free next block) and the granule before
/// it (the last of a free previous block, whose tag gives where that block starts), each confirmed by the starts bitmap
/// (the block the tag describes must start and end at starts).</item>
/// </list>
/// A live block is a start whose first granule holds no tag, so free and realloc check their pointer in O(1). A tag
/// is written only where the allocator owns the memory and erased when its granule stops being a free block's end; a
/// live block's bytes make one only if they are that exact value for that granule (1 in 2^64 for bytes not copied from
/// a free block's end at the same place: a tag copied elsewhere means nothing). This guards against chance, not
/// against a program that forges tags on purpose. A free block holds its links
/// and its tags, so the smallest block is 16 bytes. One bit per 16 bytes costs 1/128 of the heap (0.8 % of
/// utilization); an 8-byte header costs 8 bytes per block, which is 20 % of a heap of 40-byte blocks. A second, small
/// bitmap (a bit per 64 granules) says which words of starts are not 0, so that a large block's size is found in a
/// few steps. The bitmaps grow by a quarter at a time; starts is pinned and read through a pointer.
/// <para>Free lists and placement are those of <see cref="SegregatedListAllocator"/>: one class per block size up to
/// 1 KiB, four per power of two above; best fit among the first blocks of a class (also of the next class up, where
/// segregated scans all of it: binary-bal leaves hundreds of like-sized holes in one class, and the full scan halved
/// its throughput without saving a byte on the CS:APP or CMU traces); small blocks (at most 64 bytes) cut
/// from the end of a free block, large ones from its start; freed blocks merge with free neighbours at once; the break
/// moves by what is missing (by a chunk for a small block above a large one). Realloc shrinks in place, grows into a
/// free next block or at the top of the heap, slides down into a free previous block, and copies only where that
/// saves as much heap as it moves.</para>
/// <para>Quick lists, like glibc's tcache, keep up to <see cref="QuickDepth"/> freed blocks of each size up to
/// <see cref="QuickMax"/> granules for the next malloc of that size, unmerged; all of them are freed for real before the
/// heap grows, so they never make it larger.</para>
/// </summary>
[Allocator("headerless", "segregated lists, a side bitmap of block starts and tags in free blocks, no headers", Order = 8)]
public sealed unsafe class HeaderlessAllocator : ArenaAllocator
{
    /// <summary>How many size classes (free lists) there are.</summary>
    public const int ClassCount = ClassHeads.Classes;
    const int ExactClasses = 64;  // 1 … 64 granules (16 … 1024 bytes); then four classes per power of two
    const int BestFitScan = 8;    // blocks examined past the first fit in a range class
    const uint SmallBlock = 4;    // granules: blocks up to 64 bytes are cut from the end of a free block
    const uint SmallChunk = 256;  // granules: the most the break moves for a small block …
    const uint ChunkDivisor = 16; // … and at most this fraction of the heap
    const uint NoLink = uint.MaxValue;
    const int GrowthDivisor = 4;

    ulong[] bits;   // the starts bitmap, a word per 64 granules; pinned, and read through words
    ulong* words;
    ulong[] summary = new ulong[1]; // a bit per starts word that is not 0, so that the size of a large block is quick to find
    uint top;                    // granules in the heap: the break's granule, where the sentinel start is
    uint smallTop;               // the break when a small block that moved it ends the heap (then no chunk is needed)
    ClassHeads lists = new();
    PerQuickList<uint> quickHeads; // per size in granules (1 … QuickMax), 1 + the first block's granule (0: empty)
    PerQuickList<byte> quickCounts;
    int quickTotal;

    /// <summary>The largest block a quick list holds, in granules (256 bytes).</summary>
    public const int QuickMax = 16;
    /// <summary>The most blocks a quick list holds.</summary>
    public const int QuickDepth = 8;

    [InlineArray(QuickMax)]
    struct PerQuickList<T>
    {
        T first;
    }

    /// <summary>Takes over <paramref name="heap"/>, which must be empty.</summary>
    public HeaderlessAllocator(SimulatedBreak heap) : base(heap, checksLiveBlocks: true)
    {
        MaxHeapSize = Math.Min(heap.MaxSize, (long)(uint.MaxValue - 64) << 4); // granules are 32-bit
        bits = GC.AllocateArray<ulong>(1, pinned: true);
        words = (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bits));
        tagKey = (ulong)heap.HeapLo * TagMultiplier ^ 0xD1B54A32D192ED03;
        SetStart(0); // the sentinel of the empty heap
    }

    /// <inheritdoc/>
    public override string Name => "headerless";

    /// <inheritdoc/>
    protected override int HeaderSize => 0;

    /// <summary>The granules a request of <paramref name="size"/> bytes (≥ 1) takes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static uint Granules(long size) => (uint)((size + 15) >> 4);

    /// <summary>The free list a free block of <paramref name="granules"/> granules belongs in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ClassOf(uint granules)
    {
        if (granules <= ExactClasses) return (int)granules - 1;
        ulong bytes = (ulong)granules << 4;
        int log = BitOperations.Log2(bytes);
        int c = ExactClasses + ((log - 10) << 2) + (int)((bytes >> (log - 2)) & 3);
        return Math.Min(ClassCount - 1, c);
    }

    // --- the bitmaps ---

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref ulong Word(uint g) => ref words[(nint)(g >> 6)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool IsStart(uint g) => ((Word(g) >> (int)g) & 1) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetStart(uint g)
    {
        Word(g) |= 1UL << (int)g;
        Summary(g >> 6) |= 1UL << (int)(g >> 6);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void ClearStart(uint g)
    {
        ref ulong word = ref Word(g);
        word &= ~(1UL << (int)g);
        if (word == 0) Summary(g >> 6) &= ~(1UL << (int)(g >> 6));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref ulong Summary(uint w) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(summary), (nint)(w >> 6));

    // The first start at or after g (g ≤ top: the sentinel ends the search).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint NextStart(uint g)
    {
        ulong word = Word(g) & (~0UL << (int)g);
        return word != 0 ? (g & ~63u) + (uint)BitOperations.TrailingZeroCount(word) : NextStartAfterWord((g >> 6) + 1);
    }

    // The first start in starts word w or after it, found through the summary.
    uint NextStartAfterWord(uint w)
    {
        uint s = w >> 6;
        ulong m = Summary(w) & (~0UL << (int)w);
        while (m == 0) m = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(summary), (nint)(++s));
        w = (s << 6) + (uint)BitOperations.TrailingZeroCount(m);
        return (w << 6) + (uint)BitOperations.TrailingZeroCount(words[(nint)w]);
    }

    // The size in granules of the block that starts at g (g < top).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint BlockSize(uint g) => NextStart(g + 1) - g;

    // --- free blocks: next and prev at the start, and a tag (8 bytes) in the first and the last granule ---

    // A free block [g, g + n) holds Tag(g) ^ n in the second half of its first granule and Tag(g + n - 1) ^ n in that of
    // its last (the same word when n is 1); a quick block holds Tag(g) ^ QuickSalt at its start. Tags are written only
    // in blocks the allocator owns and erased (0) when a granule stops being such an end, so a granule of an allocated
    // block holds one only if the bytes its owners wrote there are that very 64-bit value: 1 in 2^64 for data that is
    // not copied from a free block's end at the same granule. Guarding against chance, not against a program that
    // forges tags on purpose (the key comes from the heap's address). A free block's tags are also checked against the
    // starts bitmap (the block must start and end at starts), and a neighbour is merged only when both its ends hold its
    // tags; a quick tag at a live block's start only makes free refuse it.
    const ulong TagMultiplier = 0x9E3779B97F4A7C15; // odd: distinct granules have distinct tags
    const ulong QuickSalt = 1UL << 63;
    readonly ulong tagKey;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ulong Tag(uint g) => ((ulong)g + tagKey) * TagMultiplier;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref ulong TagWord(uint g) => ref *(ulong*)Field(g, 2);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint* Field(uint g, int index) => (uint*)(Lo + ((nint)g << 4)) + index;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref uint Next(uint g) => ref *Field(g, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref uint Prev(uint g) => ref *Field(g, 1);

    // The size of the free block g (one known to be free: in a list, or checked by FreeAt or FreeBefore), from its tag.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint FreeSize(uint g) => (uint)(TagWord(g) ^ Tag(g));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Erase(uint g) => TagWord(g) = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool IsQuick(uint g) => TagWord(g) == (Tag(g) ^ QuickSalt);

    // Tags both ends of the free block [g, g + n) (its start bit is the caller's).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void MakeFree(uint g, uint n)
    {
        TagWord(g) = Tag(g) ^ n;
        TagWord(g + n - 1) = Tag(g + n - 1) ^ n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Erase(uint g, uint n)
    {
        Erase(g);
        Erase(g + n - 1);
    }

    // The size of the free block that starts at g (a start), 0 when g is the top, an allocated block or a quick block.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint FreeAt(uint g)
    {
        if (g >= top) return 0;
        ulong n = TagWord(g) ^ Tag(g);
        return n - 1 < top - g && NextStart(g + 1) == g + n ? (uint)n : 0;
    }

    // The size of the free block that ends just before g (a start), 0 when there is none: both of its ends must hold
    // its tags (its first granule is read anyway when it is unlinked).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint FreeBefore(uint g)
    {
        if (g == 0) return 0;
        ulong n = TagWord(g - 1) ^ Tag(g - 1);
        if (n - 1 >= g) return 0;
        uint s = g - (uint)n;
        return IsStart(s) && TagWord(s) == (Tag(s) ^ n) && NextStart(s + 1) == g ? (uint)n : 0;
    }

    // --- the free lists ---

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool IsNonEmpty(int c) => lists.IsNonEmpty(c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    ref uint Head(int c) => ref lists.Head(c);

    void AddClass(int c, uint g) => lists.Add(c, g);

    void DropClass(int c) => lists.Drop(c, new HeadClass(this));

    readonly struct HeadClass(HeaderlessAllocator a) : IHeadClass
    {
        public int Of(uint head) => ClassOf(a.FreeSize(head));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Insert(uint g, uint n)
    {
        int c = ClassOf(n);
        Prev(g) = NoLink;
        if (!IsNonEmpty(c))
        {
            Next(g) = NoLink;
            AddClass(c, g);
            return;
        }
        ref uint head = ref Head(c);
        Next(g) = head;
        Prev(head) = g;
        head = g;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Remove(uint g, uint n)
    {
        uint next = Next(g), prev = Prev(g);
        if (prev != NoLink) Next(prev) = next;
        else if (next != NoLink) Head(ClassOf(n)) = next;
        else DropClass(ClassOf(n));
        if (next != NoLink) Prev(next) = prev;
    }

    // The free block g (in no list) takes the place of the free block old, of class c, in its list.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Replace(uint old, uint g, int c)
    {
        uint next = Next(old), prev = Prev(old);
        Next(g) = next;
        Prev(g) = prev;
        if (next != NoLink) Prev(next) = g;
        if (prev != NoLink) Next(prev) = g;
        else Head(c) = g;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int NextNonEmpty(int c) => lists.NextNonEmpty(c);

    // A free block of at least k granules (in its list), NoLink when none.
    uint Find(uint k)
    {
        int c = ClassOf(k);
        if (c >= ExactClasses)
        {
            uint best = NoLink, bestSize = uint.MaxValue;
            int extra = -1;
            for (uint g = IsNonEmpty(c) ? Head(c) : NoLink; g != NoLink && extra < BestFitScan; g = Next(g))
            {
                uint s = FreeSize(g);
                if (s < k) continue;
                if (s < bestSize) { best = g; bestSize = s; if (s == k) break; }
                extra++;
            }
            if (best != NoLink) return best;
            c++;
        }
        int found = c < ClassCount ? NextNonEmpty(c) : -1;
        return found < 0 ? NoLink : found < ExactClasses ? Head(found) : Smallest(found);
    }

    // The smallest of the first blocks of range class c (the lowest among equals): the best fit there, in O(1).
    uint Smallest(int c)
    {
        uint best = Head(c), bestSize = FreeSize(best);
        int seen = 0;
        for (uint g = Next(best); g != NoLink && seen++ < BestFitScan; g = Next(g))
        {
            uint s = FreeSize(g);
            if (s < bestSize || (s == bestSize && g < best)) { best = g; bestSize = s; }
        }
        return best;
    }

    // --- malloc ---

    /// <inheritdoc/>
    protected override nint AllocateBlock(long size)
    {
        uint k = Granules(size);
        uint q = TryQuickMalloc(k);
        if (q != NoLink) return Address(q);
        uint g = Find(k);
        if (g == NoLink && quickTotal != 0)
        {
            FlushQuick(); // before the heap grows
            g = Find(k);
        }
        if (g != NoLink) return Address(Take(g, k));
        g = GrowFor(k);
        return g == NoLink ? 0 : Address(g);
    }

    // Allocates k granules from the free block g (in its list); returns the allocated block. Small blocks come from its
    // end, others from its start; a rest that stays in the same class keeps the block's place in its list.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint Take(uint g, uint k)
    {
        uint n = FreeSize(g), rest = n - k;
        if (rest == 0)
        {
            Remove(g, n);
            Erase(g, n);
            return g;
        }
        int c = ClassOf(n);
        bool stays = ClassOf(rest) == c;
        if (k <= SmallBlock) // the rest stays at g
        {
            if (!stays) Remove(g, n);
            uint q = g + rest;
            Erase(g + n - 1);
            SetStart(q);
            MakeFree(g, rest);
            if (!stays) Insert(g, rest);
            return q;
        }
        uint r = g + k;
        if (stays) Replace(g, r, c);
        else Remove(g, n);
        Erase(g);
        SetStart(r);
        MakeFree(r, rest);
        if (!stays) Insert(r, rest);
        return g;
    }

    // Moves the break for a block of k granules at the top of the heap (taking in a free block that ends it); returns the
    // allocated block, NoLink when the heap cannot grow. For a small block above a large one the break moves by a chunk
    // (at most SmallChunk, at most 1/ChunkDivisor of the heap), so that the small blocks that follow come from the same
    // free block's end instead of each moving the break.
    uint GrowFor(uint k)
    {
        uint topFree = FreeBefore(top), start = top - topFree;
        if (topFree >= k) return Take(start, k);
        uint missing = k - topFree;
        bool chunked = false;
        if (k <= SmallBlock && top != smallTop)
        {
            uint chunk = Math.Min(SmallChunk, Math.Max(1, top / ChunkDivisor));
            chunked = chunk > missing && CanGrow((long)chunk << 4);
            if (chunked) missing = chunk;
        }
        if (!CanGrow((long)missing << 4)) return NoLink;
        if (k <= SmallBlock) smallTop = top + missing;
        uint oldTop = top;
        if (chunked)
        {
            GrowBy(missing); // the old sentinel is the new free block's start
            return Take(Coalesce(oldTop, missing), k);
        }
        if (topFree != 0)
        {
            Remove(start, topFree);
            Erase(start, topFree);
        }
        GrowBy(missing);
        if (topFree != 0) ClearStart(oldTop);
        return start;
    }

    // Moves the break up by n granules (CanGrow said yes) and the sentinel with it; the old sentinel stays set.
    void GrowBy(uint n)
    {
        Grow((long)n << 4);
        top += n;
        if (bits.Length < (top >> 6) + 1) GrowBits((top >> 6) + 1);
        if (summary.Length <= top >> 12) Array.Resize(ref summary, (int)(top >> 12) + 1);
        SetStart(top);
    }

    // Makes room for needed words, a quarter more than the bitmap had at least (rounded up to 8 words): growing by less
    // would copy the bitmap over and over as the heap grows (a new allocator starts empty on every replay), by more would
    // leave more of it unused (it counts as side state). Only the new words are zeroed.
    void GrowBits(uint needed)
    {
        int length = (int)((Math.Max(needed, bits.Length + bits.Length / GrowthDivisor) + 7) & ~7L);
        var grown = GC.AllocateUninitializedArray<ulong>(length, pinned: true);
        bits.AsSpan().CopyTo(grown);
        grown.AsSpan(bits.Length).Clear();
        bits = grown;
        words = (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(bits));
    }

    // --- free ---

    /// <inheritdoc/>
    protected override bool IsLiveBlock(nint pointer)
    {
        uint g = (uint)(((long)pointer - (long)Lo) >> 4);
        return g < top && IsStart(g) && FreeAt(g) == 0 && !IsQuick(g);
    }

    /// <inheritdoc/>
    protected override void FreeBlock(nint payload)
    {
        uint g = (uint)(((long)payload - (long)Lo) >> 4), n = BlockSize(g);
        if (!TryQuickFree(g, n)) Coalesce(g, n);
    }

    // --- quick lists, like glibc's tcache: a freed block of at most QuickMax granules waits, up to QuickDepth per size,
    // for the next malloc of its size, without coalescing. Its start holds its quick tag (so it is neither live nor free)
    // and its link. Its neighbours do not merge with it; all of them are freed for real before the heap grows. ---

    bool TryQuickFree(uint g, uint n)
    {
        if (n > QuickMax || quickCounts[(int)n - 1] == QuickDepth) return false;
        int q = (int)n - 1;
        TagWord(g) = Tag(g) ^ QuickSalt;
        Next(g) = quickHeads[q];
        quickHeads[q] = g + 1;
        quickCounts[q]++;
        quickTotal++;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint TryQuickMalloc(uint k)
    {
        if (quickTotal == 0 || k > QuickMax) return NoLink;
        int q = (int)k - 1;
        uint head = quickHeads[q];
        if (head == 0) return NoLink;
        uint g = head - 1;
        quickHeads[q] = Next(g);
        quickCounts[q]--;
        quickTotal--;
        Erase(g);
        return g;
    }

    // Frees every quick block into the free lists (merged with its free neighbours).
    void FlushQuick()
    {
        for (int q = 0; q < QuickMax; q++)
        {
            for (uint head = quickHeads[q]; head != 0;)
            {
                uint g = head - 1;
                head = Next(g);
                Erase(g);
                Coalesce(g, (uint)q + 1);
            }
            quickHeads[q] = 0;
            quickCounts[q] = 0;
        }
        quickTotal = 0;
    }

    // Frees the block [g, g + n) (start bit set, no tags, in no list): merges it with its free neighbours and puts the
    // result in its list, in the place of the neighbour it absorbs when that one's class does not change.
    uint Coalesce(uint g, uint n)
    {
        uint next = g + n, nn = FreeAt(next), ps = FreeBefore(g);
        if (ps == 0)
        {
            if (nn == 0)
            {
                MakeFree(g, n);
                Insert(g, n);
                return g;
            }
            int nc = ClassOf(nn);
            bool stays = ClassOf(n + nn) == nc;
            if (stays) Replace(next, g, nc);
            else Remove(next, nn);
            ClearStart(next);
            Erase(next);
            MakeFree(g, n + nn);
            if (!stays) Insert(g, n + nn);
            return g;
        }
        uint prev = g - ps, total = ps + n + nn;
        if (nn != 0)
        {
            Remove(next, nn);
            ClearStart(next);
            Erase(next, nn);
        }
        ClearStart(g);
        bool kept = ClassOf(total) == ClassOf(ps);
        if (!kept) Remove(prev, ps);
        Erase(prev, ps);
        MakeFree(prev, total);
        if (!kept) Insert(prev, total);
        return prev;
    }

    // --- realloc ---

    /// <inheritdoc/>
    protected override long Capacity(nint payload) => (long)BlockSize((uint)(((long)payload - (long)Lo) >> 4)) << 4;

    /// <inheritdoc/>
    protected override nint ReallocateBlock(nint payload, long size)
    {
        uint g = (uint)(((long)payload - (long)Lo) >> 4), n = BlockSize(g), k = Granules(size);
        if (k == n) return payload;
        if (k < n) // shrink in place: the rest is freed (merged with a free next block)
        {
            SetStart(g + k);
            Coalesce(g + k, n - k);
            return payload;
        }
        uint next = g + n, nn = FreeAt(next);
        if (n + nn >= k) // grow into the free next block
        {
            Remove(next, nn);
            Erase(next, nn);
            ClearStart(next);
            Split(g, k, n + nn);
            return payload;
        }
        uint ps = FreeBefore(g);
        if (next + nn == top) return AtTop(g, k, n, ps, nn);
        if (ps + n + nn >= k) return SlideDown(g, k, n, ps, nn);
        return base.ReallocateBlock(payload, size); // allocate, copy, free
    }

    // The block g (allocated, total granules, no tags) keeps k of them; the rest becomes a free block in its list.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Split(uint g, uint k, uint total)
    {
        if (total == k) return;
        SetStart(g + k);
        MakeFree(g + k, total - k);
        Insert(g + k, total - k);
    }


    // The free previous block (ps granules) and the free next one (nn, maybe 0) take the block: its payload moves down.
    nint SlideDown(uint g, uint k, uint n, uint ps, uint nn)
    {
        uint prev = g - ps, next = g + n;
        Remove(prev, ps);
        Erase(prev, ps);
        if (nn != 0)
        {
            Remove(next, nn);
            Erase(next, nn);
            ClearStart(next);
        }
        ClearStart(g);
        Copy(Address(g), Address(prev), (long)n << 4);
        Split(prev, k, ps + n + nn);
        return Address(prev);
    }

    // The block g (n granules, with a free next block of nn that ends the heap, maybe 0) grows at the top without a copy,
    // by moving the break only by what is missing. A copy is made only where it saves at least as much heap as it copies:
    // into a free block elsewhere when the growth avoided is at least the block, or down into a free previous block at
    // least as large as the block (then the break moves by what is still missing). 0 when the heap cannot grow.
    nint AtTop(uint g, uint k, uint n, uint ps, uint nn)
    {
        uint missing = k - n - nn;
        if (missing >= n)
        {
            uint q = Find(k);
            if (q != NoLink)
            {
                q = Take(q, k);
                Copy(Address(g), Address(q), (long)n << 4);
                Coalesce(g, n);
                return Address(q);
            }
        }
        uint start = g;
        if (ps >= n)
        {
            if (ps + n + nn >= k) return SlideDown(g, k, n, ps, nn);
            start = g - ps;
            missing -= ps;
        }
        if (!CanGrow((long)missing << 4)) return 0;
        if (start != g)
        {
            Remove(start, ps);
            Erase(start, ps);
            ClearStart(g);
            Copy(Address(g), Address(start), (long)n << 4);
        }
        if (nn != 0)
        {
            Remove(g + n, nn);
            Erase(g + n, nn);
            ClearStart(g + n);
        }
        uint oldTop = top;
        GrowBy(missing);
        ClearStart(oldTop);
        return Address(start);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    nint Address(uint g) => Lo + ((nint)g << 4);

    // --- walking and checking ---

    /// <inheritdoc/>
    public override IReadOnlyList<BlockInfo> Blocks()
    {
        var blocks = new List<BlockInfo>();
        for (uint g = 0; g < top;)
        {
            uint n = BlockSize(g);
            blocks.Add(new BlockInfo((long)g << 4, (long)n << 4, FreeAt(g) == 0 && !IsQuick(g)));
            g += n;
        }
        return blocks;
    }

    // Breaks the heap for HeapChecker's tests: flips the start bit of the granule at offset, or with tag, erases the
    // tag there (or writes one of a one-granule free block where there is none).
    internal void FlipBit(long offset, bool tag)
    {
        uint g = (uint)(offset >> 4);
        if (!tag) Word(g) ^= 1UL << (int)g;
        else TagWord(g) = HoldsTag(g) ? 0 : Tag(g) ^ 1;
    }

    // Whether granule g holds a free block's or a quick block's tag of some size that fits in the heap.
    bool HoldsTag(uint g)
    {
        ulong n = TagWord(g) ^ Tag(g);
        return n - 1 < top || n == QuickSalt;
    }

    /// <summary>The first broken invariant of the bitmap, the tags, the free blocks and the free lists, or null (for <see cref="HeapChecker"/>).</summary>
    internal HeapViolation? CheckInvariants()
    {
        if (Heap.Size != (long)top << 4) return new HeapViolation($"the heap is {Heap.Size} bytes, but the allocator counts {top} granules", Heap.Size);
        if (bits.Length < (top >> 6) + 1) return new HeapViolation($"the bitmap holds {bits.Length * 64} granules, fewer than the heap's {top} + 1", Heap.Size);
        if (!IsStart(top)) return new HeapViolation("the sentinel start at the break is missing", Heap.Size);
        for (uint w = top >> 6; w < bits.Length; w++)
        {
            ulong past = w == top >> 6 ? ~0UL << (int)(top & 63) << 1 : ~0UL; // the granules after the sentinel
            if ((bits[w] & past) != 0) return new HeapViolation($"a bit is set past the break, in word {w}", (long)w << 10);
        }
        for (uint w = 0; w <= top >> 6; w++)
            if ((bits[w] != 0) != (((summary[w >> 6] >> (int)w) & 1) != 0))
                return new HeapViolation($"the summary bit of starts word {w} does not say whether it is 0", (long)w << 10);
        if (top > 0 && !IsStart(0)) return new HeapViolation("no block starts at the start of the heap", 0);
        var free = new HashSet<uint>();
        var quick = new HashSet<uint>();
        bool lastFree = false;
        for (uint g = 0; g < top;)
        {
            uint n = BlockSize(g);
            // Only a block's first and last granules are read as tags (the granules inside a block never are), so only
            // they are checked; a granule inside a free block holds no tag (an end that stops being one is erased).
            bool isFree = FreeAt(g) != 0, isQuick = IsQuick(g);
            if (isQuick)
            {
                if (n > QuickMax || (n > 1 && HoldsTag(g + n - 1)))
                    return new HeapViolation($"the quick block at {(long)g << 4} ({n} granules) has a free block's tag at its end", (long)g << 4);
                quick.Add(g);
            }
            else if (isFree)
            {
                if (FreeBefore(g + n) != n) return new HeapViolation($"the free block at {(long)g << 4} ({n} granules) has no tag at its end", (long)g << 4);
                if (lastFree) return new HeapViolation($"the free block at {(long)g << 4} touches the free block before it", (long)g << 4);
                free.Add(g);
            }
            else if (HoldsTag(g)) return new HeapViolation($"the block at {(long)g << 4} holds a tag that does not match its size", (long)g << 4);
            else if (FreeBefore(g + n) != 0) return new HeapViolation($"the allocated block at {(long)g << 4} ends like a free block (both of its ends hold tags)", (long)g << 4);
            lastFree = isFree; // a quick block's neighbours do not merge with it
            g += n;
        }
        return CheckLists(free) ?? CheckQuickLists(quick);
    }

    HeapViolation? CheckQuickLists(HashSet<uint> quick)
    {
        int total = 0;
        for (int q = 0; q < QuickMax; q++)
        {
            int count = 0;
            for (uint head = quickHeads[q]; head != 0; head = Next(head - 1))
            {
                uint g = head - 1;
                if (!quick.Remove(g)) return new HeapViolation($"quick list {q + 1} holds granule {g}, which is not a quick block (or is in a list twice)", (long)g << 4);
                if (BlockSize(g) != q + 1) return new HeapViolation($"the quick block at {(long)g << 4} ({BlockSize(g)} granules) is in quick list {q + 1}", (long)g << 4);
                count++;
            }
            if (count != quickCounts[q] || count > QuickDepth) return new HeapViolation($"quick list {q + 1} holds {count} blocks, but its count says {quickCounts[q]}", 0);
            total += count;
        }
        if (total != quickTotal) return new HeapViolation($"the quick lists hold {total} blocks, but {quickTotal} are counted", 0);
        foreach (uint g in quick) return new HeapViolation($"the quick block at {(long)g << 4} is in no quick list", (long)g << 4);
        return null;
    }

    HeapViolation? CheckLists(HashSet<uint> free)
    {
        int classes = 0;
        for (int c = 0; c < ClassCount; c++)
        {
            if (!IsNonEmpty(c)) continue;
            classes++;
            if (lists.SlotOf(c) >= lists.Count) return new HeapViolation($"class {c} has head slot {lists.SlotOf(c)} of {lists.Count}", 0);
            uint prev = NoLink;
            for (uint g = Head(c); g != NoLink; prev = g, g = Next(g))
            {
                if (!free.Remove(g)) return new HeapViolation($"free list {c} holds granule {g}, which is not a free block (or is in a list twice)", (long)g << 4);
                if (ClassOf(FreeSize(g)) != c) return new HeapViolation($"the free block at {(long)g << 4} ({FreeSize(g)} granules) is in list {c}, not {ClassOf(FreeSize(g))}", (long)g << 4);
                if (Prev(g) != prev) return new HeapViolation($"the free block at {(long)g << 4} links back to {Prev(g)}, not {prev}", (long)g << 4);
            }
            if (prev == NoLink) return new HeapViolation($"free list {c} is marked non-empty but has no blocks", 0);
        }
        if (classes != lists.Count) return new HeapViolation($"{classes} classes are non-empty, but {lists.Count} heads are kept", 0);
        foreach (uint g in free) return new HeapViolation($"the free block at {(long)g << 4} is in no free list", (long)g << 4);
        return null;
    }
}

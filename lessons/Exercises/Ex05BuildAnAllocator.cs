using System.Runtime.CompilerServices;
using Lessons.Heap;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 05 — build your own malloc (the CS:APP malloc lab, in C#). Write <see cref="Malloc"/>, <see cref="Free"/>,
/// <see cref="Realloc"/>, <see cref="Calloc"/> and <see cref="Blocks"/> (and any private helpers you like) so that
/// the class keeps the <see cref="IAllocator"/> contract; read that contract first. Grade it with
/// <c>dotnet test tests/Exercises.Tests --filter Lesson=05</c>, and score it like the lab's mdriver with
/// <c>dotnet run --project lessons/Workbook -- malloc-lab --allocator student</c>.
/// <para>
/// <b>Rules.</b> All memory comes from <see cref="Heap"/>: <c>Heap.Sbrk(n)</c> moves the break up by n bytes and returns
/// the old break; <c>Heap.Size</c> is the break's distance from <c>Heap.HeapLo</c>, and it may never pass
/// <c>Heap.MaxSize</c> (check before you call Sbrk: out of memory is answered with 0, not an exception). Payload
/// addresses are multiples of 16. Bad frees (a pointer never returned, freed already, or pointing inside a block) must
/// throw <see cref="HeapMisuseException"/> and change nothing. You may keep fields and side tables outside the heap
/// (list heads, a bitmap of live payloads that makes that check O(1)), exactly as the reference allocators may:
/// <see cref="IAllocator"/> states the one rule for both. Side state is counted like heap bytes in utilization
/// (malloc-lab's "side B" column), and static fields that hold state are not allowed.
/// </para>
/// <para>
/// <b>Grading.</b> The graded tests check correctness on every bundled trace (assets/traces), the contract (alignment,
/// Malloc(0), Free(0), bad frees, calloc overflow, realloc), your average <b>utilization</b> (peak live payload ÷ (the
/// heap's largest size + side state)) over the bundled traces (at least 60% for some points, 70% — the first-fit reference's level — for more), your
/// <b>throughput</b> (at least a quarter of libc's ops/s, measured in the same run), and your malloc-lab <b>score</b>
/// against two reference allocators run alongside (reaching first-fit's for some points, segregated's for more); hidden
/// tests do the same on traces you have not seen. <c>malloc-lab --allocator student</c> prints all of these figures.
/// </para>
/// <para>
/// <b>Starting point: the naive allocator</b> (the lab's mm-naive, here <see cref="NaiveAllocator"/>): a block is an
/// 8-byte header (block size | 1 when allocated) and the payload, rounded up to 16 bytes; the heap starts with 8
/// bytes of padding so payloads are aligned, and free only clears the bit:
/// <code>
/// public nint Malloc(long size)
/// {
///     ArgumentOutOfRangeException.ThrowIfNegative(size);
///     if (size == 0 || size &gt; Heap.MaxSize) return 0;
///     long block = (size + 8 + 15) &amp; ~15L;                // header + payload, rounded to 16
///     long pad = Heap.Size == 0 ? 8 : 0;                   // the first block starts after an 8-byte pad
///     if (pad + block &gt; Heap.MaxSize - Heap.Size) return 0; // out of memory: change nothing
///     if (pad != 0) Heap.Sbrk(pad);
///     nint header = Heap.Sbrk(block);
///     Put(header, block | 1);
///     return header + 8;
/// }
/// </code>
/// Its Free walks the blocks from the pad to the break to check the pointer, then clears the bit.
/// It is correct but never reuses a byte (malloc-lab --allocator naive shows its utilization: 27% on average over the
/// bundled traces when this was written, helped by the traces that free little). Improve it step by step, checking
/// with the tests and malloc-lab after each: (1) reuse free blocks found by walking the heap (an implicit free list,
/// first fit); (2) split a block larger than needed; (3) coalesce a freed block with free neighbours — a footer (a
/// copy of the header at the end of a free block) lets you reach the block before; (4) compare first and best fit; (5) realloc
/// in place when the next block is free or the block ends the heap; (6) save the footer of allocated blocks (a
/// "previous block is allocated" bit in each header) so that a 1–8 byte block needs 16 bytes instead of 32; (7) put
/// small blocks at the high end of a free block and large ones at the low end, so freed large blocks merge. Walking
/// the heap makes malloc and free O(n), far below libc's throughput; then (8) link the free blocks into lists by size
/// (segregated free lists, the links inside the free blocks) so malloc looks at a few blocks, not all, and (9) keep a
/// bitmap of live payloads beside the heap so free checks its pointer in O(1) (it costs 1/128 of the heap).
/// </para>
/// <para>
/// <b>The solution's layout</b> (yours may differ, except that <see cref="Blocks"/> must list your blocks): an 8-byte
/// pad, then blocks that tile the heap up to the break. A block starts with a header word: its size (a multiple of 16,
/// at least 16) | <see cref="AllocatedBit"/> | <see cref="PrevAllocatedBit"/> | <see cref="PrevSmallBit"/>. The payload
/// starts right after the header. A free block keeps two 32-bit links in its first payload bytes (its neighbours in the
/// free list of its size) and, when larger than 16 bytes, ends with a footer (its size); allocated blocks have none.
/// Beside the heap: the lists' heads and the bitmap of live payloads.
/// </para>
/// <para>
/// <see cref="AllocatorAttribute"/> is how <c>malloc-lab --allocator student</c> and <c>heap-fuzz</c> find this class;
/// mark another allocator of yours the same way, with a name of its own, to run it too.
/// </para>
/// </summary>
[Allocator("student", "your allocator (lessons/Exercises/Ex05BuildAnAllocator.cs)")]
public sealed class StudentAllocator : IAllocator, IHeapView
{
    /// <summary>Set in a header when the block is allocated.</summary>
    public const long AllocatedBit = 1;

    /// <summary>Set in a header when the block just before it is allocated (or when there is none).</summary>
    public const long PrevAllocatedBit = 2;

    /// <summary>Set in a header when the block just before it is 16 bytes, the smallest, which has no room for a footer.</summary>
    public const long PrevSmallBit = 4;

    /// <summary>Bytes in a header or footer word.</summary>
    public const int WordSize = 8;

    /// <summary>Payload addresses, and block sizes, are multiples of this.</summary>
    public const int Alignment = 16;

    /// <summary>The solution places blocks smaller than this at the high end of a free block, larger ones at the low end (see Place).</summary>
    const long LargeBlock = 96;

    /// <summary>The solution's free lists: one per block size from 16 to 256 bytes, then one per power of two.</summary>
    const int ExactClasses = 16, ClassCount = 64;

    /// <summary>How many fitting blocks the solution compares in a free list of mixed sizes before it takes the smallest.</summary>
    const int BestFitScan = 8;

    /// <summary>The solution links free blocks by 32-bit payload offsets in units of 16 bytes: heaps up to 64 GiB.</summary>
    const long MaxHeap = 64L << 30;

    // The solution's side state, outside the heap and counted in utilization (IAllocator's rule); use it or delete it.
    // (The pragma: the student copy's stubs do not use these fields yet, and warnings are errors.)
#pragma warning disable CS0169, CS0414
    readonly uint[] heads = new uint[ClassCount]; // first free block of each list (payload offset ÷ 16), 0 when empty
    ulong nonEmpty;                               // bit c: list c has a block
    ulong[] live = new ulong[8];                  // bit o ÷ 16: a live payload starts at offset o (makes free's check O(1))
    long tail = PrevAllocatedBit;                 // the prev bits a block at the break would have
    readonly nint lo;                             // Heap.HeapLo and Heap.Break, kept here: the properties check the heap each time
    nint end;
#pragma warning restore CS0169, CS0414

    /// <summary>Takes over <paramref name="heap"/>, which must be empty (its break at HeapLo).</summary>
    public StudentAllocator(SimulatedBreak heap)
    {
        ArgumentNullException.ThrowIfNull(heap);
        if (heap.Size != 0)
            throw new ArgumentException($"the heap must be empty; its break is {heap.Size} bytes above HeapLo", nameof(heap));
        Heap = heap;
        lo = end = heap.HeapLo;
    }

    /// <inheritdoc/>
    public string Name => "student";

    /// <summary>The simulated break this allocator owns; nobody else moves it.</summary>
    public SimulatedBreak Heap { get; }

    /// <summary>Reads the 8-byte word at <paramref name="address"/> (a header or footer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe long Get(nint address) => *(long*)address;

    /// <summary>Writes the 8-byte word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Put(nint address, long value) => *(long*)address = value;

    /// <summary>The size field of a header word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static long SizeOf(long word) => word & ~(long)(Alignment - 1);

    /// <summary>
    /// Exercise 05.1 — malloc: the address of a new block with room for <paramref name="size"/> bytes, a multiple of 16
    /// inside [HeapLo, Break). <c>Malloc(0)</c> returns 0; so does a request the heap cannot hold (nothing changes).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">size is negative.</exception>
    public nint Malloc(long size)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0 || size > Heap.MaxSize) return 0;
        long asize = BlockSizeFor(size);
        nint h = FindFit(asize);
        if (h == 0)
        {
            h = Extend(asize);
            if (h == 0) return 0;
        }
        nint payload = Place(h, asize) + WordSize;
        SetLive(payload, true);
        return payload;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 05.2 — free: gives back the block at <paramref name="pointer"/>, so a later malloc can reuse it.
    /// <c>Free(0)</c> does nothing.
    /// </summary>
    /// <exception cref="HeapMisuseException">pointer is not a live block from this allocator (never returned, freed
    /// already, or pointing inside a block); nothing changes.</exception>
    public void Free(nint pointer)
    {
        // BEGIN SOLUTION
        if (pointer == 0) return;
        if (!IsLive(pointer)) throw Misuse($"free(0x{pointer:x})", pointer);
        SetLive(pointer, false);
        nint h = pointer - WordSize;
        long w = Get(h);
        MarkFree(h, SizeOf(w), w);
        Coalesce(h);
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 05.3 — realloc: resizes the block at <paramref name="pointer"/> to hold <paramref name="size"/> bytes and
    /// returns its (maybe new) address; the first min(old, new) bytes keep their contents. <c>Realloc(0, n)</c> is
    /// <c>Malloc(n)</c>; <c>Realloc(p, 0)</c> frees p and returns 0; when there is no room, 0 is returned and the
    /// block is untouched.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">size is negative.</exception>
    /// <exception cref="HeapMisuseException">pointer is not a live block (as for Free); nothing changes.</exception>
    public nint Realloc(nint pointer, long size)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (pointer == 0) return Malloc(size);
        if (!IsLive(pointer)) throw Misuse($"realloc(0x{pointer:x}, {size})", pointer);
        if (size == 0)
        {
            Free(pointer);
            return 0;
        }
        if (size > Heap.MaxSize) return 0;
        nint h = pointer - WordSize;
        long asize = BlockSizeFor(size), w = Get(h), csize = SizeOf(w);
        if (asize <= csize)
        {
            Shrink(h, asize);
            return pointer;
        }
        // grow in place: absorb a free next block; or slide down into a free previous block; move the break if the block
        // (then) ends the heap. Only then allocate, copy and free.
        nint next = h + (nint)csize;
        long nextSize = next < end && (Get(next) & AllocatedBit) == 0 ? SizeOf(Get(next)) : 0;
        long available = csize + nextSize;
        bool last = h + (nint)available == end;
        long prevSize = (w & PrevAllocatedBit) != 0 ? 0 : (w & PrevSmallBit) != 0 ? 2 * WordSize : SizeOf(Get(h - WordSize));
        nint start = h;
        if (available < asize && prevSize != 0 && (prevSize + available >= asize || (last && CanGrow(asize - prevSize - available))))
        {
            start = h - (nint)prevSize;
            Remove(start, prevSize);
            available += prevSize;
        }
        else if (!(available >= asize || (last && CanGrow(asize - available))))
            start = 0;
        if (start != 0)
        {
            if (nextSize != 0) Remove(next, nextSize);
            if (available < asize)
            {
                Grow(asize - available);
                available = asize;
            }
            long prevBits = Get(start) & (PrevAllocatedBit | PrevSmallBit);
            if (start != h)
            {
                Copy(pointer, start + WordSize, csize - WordSize);
                SetLive(pointer, false);
                SetLive(start + WordSize, true);
            }
            Put(start, available | AllocatedBit | prevBits);
            SetPrevBits(start + (nint)available, allocated: true, available);
            Shrink(start, asize);
            return start + WordSize;
        }
        nint q = Malloc(size);
        if (q == 0) return 0;
        Copy(pointer, q, csize - WordSize);
        Free(pointer);
        return q;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 05.4 — calloc: a block of <paramref name="count"/> × <paramref name="size"/> bytes, all zero; 0 when
    /// the product overflows or the heap cannot hold it, and 0 when it is 0 (as Malloc(0)).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">count or size is negative.</exception>
    public nint Calloc(long count, long size)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ulong high = Math.BigMul((ulong)count, (ulong)size, out ulong total);
        if (high != 0 || total > (ulong)Heap.MaxSize) return 0;
        nint p = Malloc((long)total);
        if (p != 0) Zero(p, (long)total);
        return p;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 05.5 — the heap's blocks in address order (offset of the block's first byte from HeapLo, its size
    /// with header and footer, allocated or not), for <see cref="HeapPicture"/> and <see cref="HeapChecker"/>. The blocks must
    /// tile the heap: the first starts within the first 32 bytes, each starts where the one before ends, and the
    /// last ends at the break.
    /// </summary>
    public IReadOnlyList<BlockInfo> Blocks()
    {
        // BEGIN SOLUTION
        var list = new List<BlockInfo>();
        for (nint h = lo + WordSize; h < end;)
        {
            long w = Get(h), s = SizeOf(w);
            if (s <= 0) break; // damaged: stop rather than loop forever
            list.Add(new BlockInfo(h - lo, s, (w & AllocatedBit) != 0));
            h += (nint)s;
        }
        return list;
        // END SOLUTION
    }

    /// <summary>Solution helper: the block size for a request, header included, rounded up to 16, at least 16.</summary>
    static long BlockSizeFor(long size)
    {
        // BEGIN SOLUTION
        return Math.Max(2 * WordSize, (size + WordSize + Alignment - 1) & ~(long)(Alignment - 1));
        // END SOLUTION
    }

    /// <summary>Solution helper: true when the break can move up by <paramref name="bytes"/>.</summary>
    bool CanGrow(long bytes)
    {
        // BEGIN SOLUTION
        return bytes <= Math.Min(Heap.MaxSize, MaxHeap) - (end - lo);
        // END SOLUTION
    }

    /// <summary>Solution helper: moves the break up by <paramref name="bytes"/> (after CanGrow), making room in the live
    /// bitmap; the old break.</summary>
    nint Grow(long bytes)
    {
        // BEGIN SOLUTION
        nint old = Heap.Sbrk(bytes);
        end = old + (nint)bytes;
        long words = ((end - lo) / Alignment + 64) / 64;
        if (words > live.Length) Array.Resize(ref live, (int)Math.Max(words, live.Length + live.Length / 8 + 8));
        return old;
        // END SOLUTION
    }

    /// <summary>Solution helper: the free list for blocks of <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int ClassOf(long size)
    {
        // BEGIN SOLUTION
        if (size <= ExactClasses * Alignment) return (int)(size / Alignment) - 1;
        return Math.Min(ClassCount - 1, ExactClasses + 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(size - 1)) - 8);
        // END SOLUTION
    }

    /// <summary>Solution helper: a free block's link (payload offset ÷ 16; 0 is none) to the next (or, with
    /// <paramref name="prev"/>, the previous) block of its list, kept in the first 8 payload bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe uint Link(nint h, bool prev)
    {
        // BEGIN SOLUTION
        return ((uint*)(h + WordSize))[prev ? 1 : 0];
        // END SOLUTION
    }

    /// <summary>Solution helper: sets a free block's link.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void SetLink(nint h, bool prev, uint value)
    {
        // BEGIN SOLUTION
        ((uint*)(h + WordSize))[prev ? 1 : 0] = value;
        // END SOLUTION
    }

    /// <summary>Solution helper: the header of the block a link names.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    nint HeaderAt(uint link)
    {
        // BEGIN SOLUTION
        return lo + ((nint)link << 4) - WordSize;
        // END SOLUTION
    }

    /// <summary>Solution helper: the link that names the block with header <paramref name="h"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    uint LinkTo(nint h)
    {
        // BEGIN SOLUTION
        return (uint)((h + WordSize - lo) >> 4);
        // END SOLUTION
    }

    /// <summary>Solution helper: pushes the free block at <paramref name="h"/> onto the front of its list.</summary>
    void Insert(nint h, long size)
    {
        // BEGIN SOLUTION
        int c = ClassOf(size);
        uint first = heads[c], me = LinkTo(h);
        SetLink(h, prev: false, first);
        SetLink(h, prev: true, 0);
        if (first != 0) SetLink(HeaderAt(first), prev: true, me);
        heads[c] = me;
        nonEmpty |= 1UL << c;
        // END SOLUTION
    }

    /// <summary>Solution helper: unlinks the free block at <paramref name="h"/> from its list.</summary>
    void Remove(nint h, long size)
    {
        // BEGIN SOLUTION
        int c = ClassOf(size);
        uint next = Link(h, prev: false), prev = Link(h, prev: true);
        if (prev != 0) SetLink(HeaderAt(prev), prev: false, next);
        else
        {
            heads[c] = next;
            if (next == 0) nonEmpty &= ~(1UL << c);
        }
        if (next != 0) SetLink(HeaderAt(next), prev: true, prev);
        // END SOLUTION
    }

    /// <summary>Solution helper: a free block of at least asize bytes, still in its list (0 if none). In the request's own
    /// list, when it holds mixed sizes, the smallest of the first few blocks that fit; else the next non-empty list's first
    /// block when it holds one size, or its smallest block (the best fit in the whole heap: every larger list holds larger blocks).</summary>
    nint FindFit(long asize)
    {
        // BEGIN SOLUTION
        int c = ClassOf(asize);
        if (c >= ExactClasses && heads[c] != 0)
        {
            nint best = 0;
            long bestSize = long.MaxValue;
            int fits = 0;
            for (uint link = heads[c]; link != 0 && fits < BestFitScan; link = Link(HeaderAt(link), prev: false))
            {
                long s = SizeOf(Get(HeaderAt(link)));
                if (s < asize) continue;
                fits++;
                if (s < bestSize) (best, bestSize) = (HeaderAt(link), s);
            }
            if (best != 0) return best;
            c++;
        }
        ulong mask = c < ClassCount ? nonEmpty & (ulong.MaxValue << c) : 0;
        if (mask == 0) return 0;
        int k = System.Numerics.BitOperations.TrailingZeroCount(mask);
        nint h = HeaderAt(heads[k]);
        if (k < ExactClasses) return h; // every block of this list has the same size, larger than asize
        long size = SizeOf(Get(h));
        for (uint link = Link(h, prev: false); link != 0; link = Link(HeaderAt(link), prev: false))
        {
            nint other = HeaderAt(link);
            long s = SizeOf(Get(other));
            if (s < size || (s == size && other < h)) (h, size) = (other, s);
        }
        return h;
        // END SOLUTION
    }

    /// <summary>Solution helper: moves the break so that a free block of at least asize bytes ends the heap (merged with
    /// the free block that ended it, if any) and puts it in its list; its header, or 0 when there is no room. The break
    /// moves by what is missing, or for a small block by a chunk (4 KiB, at most 1/16 of the heap) that the next small
    /// blocks share.</summary>
    nint Extend(long asize)
    {
        // BEGIN SOLUTION
        if ((end - lo) == 0)
        {
            if (!CanGrow(WordSize + asize)) return 0;
            Grow(WordSize); // the pad that aligns payloads
        }
        bool lastFree = (end - lo) > WordSize && (tail & PrevAllocatedBit) == 0;
        long have = !lastFree ? 0 : (tail & PrevSmallBit) != 0 ? 2 * WordSize : SizeOf(Get(end - WordSize));
        long grow = asize - have;
        if (!CanGrow(grow)) return 0;
        long chunk = Math.Min(4096, ((end - lo) / 16) & ~(long)(Alignment - 1));
        if (asize < LargeBlock && chunk > grow && CanGrow(chunk)) grow = chunk;
        nint h = end - (nint)have;
        long bits = lastFree ? Get(h) : tail;
        if (lastFree) Remove(h, have);
        Grow(grow);
        MarkFree(h, have + grow, bits);
        Insert(h, have + grow);
        return h;
        // END SOLUTION
    }

    /// <summary>Solution helper: allocates asize bytes of the free block at <paramref name="h"/> (taking it off its list)
    /// and returns the allocated block's header. When at least 16 bytes are left over the block is split: a small
    /// request (under <see cref="LargeBlock"/> bytes) takes the high end, a large one the low end, so that small and
    /// large blocks gather at opposite ends of free space, and freed large blocks end up next to each other and merge.</summary>
    nint Place(nint h, long asize)
    {
        // BEGIN SOLUTION
        long w = Get(h), csize = SizeOf(w), prevBits = w & (PrevAllocatedBit | PrevSmallBit);
        Remove(h, csize);
        long rest = csize - asize;
        if (rest < 2 * WordSize)
        {
            Put(h, csize | AllocatedBit | prevBits);
            SetPrevBits(h + (nint)csize, allocated: true, csize);
            return h;
        }
        if (asize >= LargeBlock)
        {
            Put(h, asize | AllocatedBit | prevBits);
            MarkFree(h + (nint)asize, rest, PrevAllocatedBit | (asize == 2 * WordSize ? PrevSmallBit : 0));
            Insert(h + (nint)asize, rest);
            return h;
        }
        nint a = h + (nint)rest;
        MarkFree(h, rest, prevBits);            // which gives a's header the prev bits of a free block of rest bytes …
        Put(a, asize | AllocatedBit | (rest == 2 * WordSize ? PrevSmallBit : 0)); // … written here
        SetPrevBits(a + (nint)asize, allocated: true, asize);
        Insert(h, rest);
        return a;
        // END SOLUTION
    }

    /// <summary>Solution helper: cuts the allocated block at <paramref name="h"/> down to asize bytes when at least 16
    /// would be left over, freeing the rest (merged with a free next block).</summary>
    void Shrink(nint h, long asize)
    {
        // BEGIN SOLUTION
        long w = Get(h), csize = SizeOf(w);
        if (csize - asize < 2 * WordSize) return;
        Put(h, asize | AllocatedBit | (w & (PrevAllocatedBit | PrevSmallBit)));
        nint rest = h + (nint)asize;
        MarkFree(rest, csize - asize, PrevAllocatedBit | (asize == 2 * WordSize ? PrevSmallBit : 0));
        Coalesce(rest);
        // END SOLUTION
    }

    /// <summary>Solution helper: writes a free block's header (with the prev bits of <paramref name="prevBits"/>) and, when
    /// it is larger than 16 bytes, its footer (its size), and tells the next block that a free block of this size is before it.</summary>
    void MarkFree(nint h, long size, long prevBits)
    {
        // BEGIN SOLUTION
        Put(h, size | (prevBits & (PrevAllocatedBit | PrevSmallBit)));
        if (size > 2 * WordSize) Put(h + (nint)size - WordSize, size);
        SetPrevBits(h + (nint)size, allocated: false, size);
        // END SOLUTION
    }

    /// <summary>Solution helper: sets the prev bits of the block at <paramref name="h"/> (at the break: of the one that
    /// would come there) for a previous block that is <paramref name="allocated"/> or not and <paramref name="prevSize"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetPrevBits(nint h, bool allocated, long prevSize)
    {
        // BEGIN SOLUTION
        long bits = (allocated ? PrevAllocatedBit : 0) | (prevSize == 2 * WordSize ? PrevSmallBit : 0);
        if (h >= end) tail = bits;
        else Put(h, (Get(h) & ~(PrevAllocatedBit | PrevSmallBit)) | bits);
        // END SOLUTION
    }

    /// <summary>Solution helper: merges the free block at <paramref name="h"/> (in no list) with free neighbours, and puts
    /// the merged block in its list.</summary>
    void Coalesce(nint h)
    {
        // BEGIN SOLUTION
        long w = Get(h), size = SizeOf(w);
        nint next = h + (nint)size;
        if (next < end && (Get(next) & AllocatedBit) == 0)
        {
            long n = SizeOf(Get(next));
            Remove(next, n);
            size += n;
        }
        if ((w & PrevAllocatedBit) == 0)
        {
            long p = (w & PrevSmallBit) != 0 ? 2 * WordSize : SizeOf(Get(h - WordSize)); // the previous block's footer
            h -= (nint)p;
            Remove(h, p);
            size += p;
            w = Get(h);
        }
        MarkFree(h, size, w);
        Insert(h, size);
        // END SOLUTION
    }

    /// <summary>Solution helper: true when <paramref name="pointer"/> is the payload of a live block (the bitmap, O(1)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool IsLive(nint pointer)
    {
        // BEGIN SOLUTION
        long off = pointer - lo;
        if (off < 0 || off >= end - lo || (off & (Alignment - 1)) != 0) return false;
        long bit = off / Alignment;
        return (live[bit >> 6] & (1UL << (int)(bit & 63))) != 0;
        // END SOLUTION
    }

    /// <summary>Solution helper: sets or clears the live bit of the payload at <paramref name="pointer"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetLive(nint pointer, bool value)
    {
        // BEGIN SOLUTION
        long bit = (pointer - lo) / Alignment;
        if (value) live[bit >> 6] |= 1UL << (int)(bit & 63);
        else live[bit >> 6] &= ~(1UL << (int)(bit & 63));
        // END SOLUTION
    }

    /// <summary>Solution helper: the <see cref="HeapMisuseException"/> for <paramref name="call"/> with a pointer that is
    /// not live, saying why (found by walking the heap: this runs only on a bad call).</summary>
    HeapMisuseException Misuse(string call, nint pointer)
    {
        // BEGIN SOLUTION
        if (pointer < lo || pointer >= end)
            return new HeapMisuseException($"{call}: not a pointer from this allocator (outside its heap 0x{lo:x}..0x{end:x}); the heap is unchanged");
        if (pointer < lo + 2 * WordSize)
            return new HeapMisuseException($"{call}: points into the heap's padding or first header, not at a payload; the heap is unchanged");
        for (nint h = lo + WordSize; h < end;)
        {
            long w = Get(h), s = SizeOf(w);
            if (s <= 0) break;
            if (pointer < h + (nint)s)
            {
                if (pointer != h + WordSize)
                    return new HeapMisuseException($"{call}: points {pointer - h} bytes into the block at offset {h - lo} ({s} bytes), not at a payload malloc returned; the heap is unchanged");
                return new HeapMisuseException($"{call}: double free (the block at offset {h - lo} is already free); the heap is unchanged");
            }
            h += (nint)s;
        }
        return new HeapMisuseException($"{call}: points into the allocator's padding, not at a block; the heap is unchanged");
        // END SOLUTION
    }

    /// <summary>Solution helper: memmove.</summary>
    static unsafe void Copy(nint from, nint to, long bytes)
    {
        // BEGIN SOLUTION
        Buffer.MemoryCopy((void*)from, (void*)to, bytes, bytes);
        // END SOLUTION
    }

    /// <summary>Solution helper: memset to 0.</summary>
    static unsafe void Zero(nint p, long bytes)
    {
        // BEGIN SOLUTION
        for (long done = 0; done < bytes;)
        {
            uint chunk = (uint)Math.Min(bytes - done, 1L << 30);
            Unsafe.InitBlockUnaligned((byte*)p + done, 0, chunk);
            done += chunk;
        }
        // END SOLUTION
    }
}

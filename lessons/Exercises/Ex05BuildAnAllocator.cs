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
/// <c>Heap.MaxSize</c> (check before you call Sbrk: out of memory is answered with 0, not an exception). Keep every
/// piece of bookkeeping inside the heap (headers, footers, links): the class has no fields, exactly like the lab's
/// mm.c may have no global arrays. Payload addresses are multiples of 16. The graded tests check correctness on
/// every bundled trace (assets/traces), the contract (alignment, Malloc(0), Free(0), bad frees, calloc overflow,
/// realloc), and your average <b>utilization</b> (peak live payload ÷ the heap's largest size) over the bundled traces:
/// at least 60% for some points and at least 75% for the rest. Bad frees (a pointer never returned, freed already,
/// or pointing inside a block) must throw <see cref="HeapMisuseException"/> and change nothing: find the block
/// by walking the heap, which you can do because the blocks tile it.
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
/// Its Free walks the blocks from the pad to the break to check the pointer (see the rules), then clears the bit.
/// It is correct but never reuses a byte (malloc-lab --allocator naive shows its utilization: 27% on average over the
/// bundled traces when this was written, helped by the traces that free little). Improve it step by step, checking
/// with the tests and malloc-lab after each: (1) reuse free blocks found by walking the heap (an implicit free list,
/// first fit); (2) split a block larger than needed; (3) coalesce a freed block with free neighbours — a footer (a
/// copy of the header at the end of a free block) lets you reach the block before; (4) compare first and best fit; (5) realloc
/// in place when the next block is free or the block ends the heap; (6) save the footer of allocated blocks (a
/// "previous block is allocated" bit in each header) so that a 1–8 byte block needs 16 bytes instead of 32; (7) put
/// small blocks at the low end of a free block and large ones at the high end, so freed large blocks merge.
/// </para>
/// <para>
/// <b>The solution's layout</b> (yours may differ, except that <see cref="Blocks"/> must list your blocks): an 8-byte
/// pad, then blocks that tile the heap up to the break. A block starts with a header word: its size (a multiple of 16,
/// at least 16) | <see cref="AllocatedBit"/> | <see cref="PrevAllocatedBit"/>. Free blocks end with a footer, a copy of
/// the header; allocated blocks have none. The payload starts right after the header.
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

    /// <summary>The solution places blocks of at least this many bytes at the high end of a free block (see Place).</summary>
    const long LargeBlock = 96;

    /// <summary>Set in a header when the block just before it is allocated (or when there is none).</summary>
    public const long PrevAllocatedBit = 2;

    /// <summary>Bytes in a header or footer word.</summary>
    public const int WordSize = 8;

    /// <summary>Payload addresses, and block sizes, are multiples of this.</summary>
    public const int Alignment = 16;

    /// <summary>Takes over <paramref name="heap"/>, which must be empty (its break at HeapLo).</summary>
    public StudentAllocator(SimulatedBreak heap)
    {
        ArgumentNullException.ThrowIfNull(heap);
        if (heap.Size != 0)
            throw new ArgumentException($"the heap must be empty; its break is {heap.Size} bytes above HeapLo", nameof(heap));
        Heap = heap;
    }

    /// <inheritdoc/>
    public string Name => "student";

    /// <summary>The simulated break this allocator owns; nobody else moves it.</summary>
    public SimulatedBreak Heap { get; }

    /// <summary>Reads the 8-byte word at <paramref name="address"/> (a header or footer).</summary>
    static unsafe long Get(nint address) => *(long*)address;

    /// <summary>Writes the 8-byte word at <paramref name="address"/>.</summary>
    static unsafe void Put(nint address, long value) => *(long*)address = value;

    /// <summary>The size field of a header word.</summary>
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
        nint h = FindFit(asize, out nint lastFree);
        if (h == 0)
        {
            h = Extend(asize, lastFree);
            if (h == 0) return 0;
        }
        return Place(h, asize) + WordSize;
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
        nint h = LiveBlock($"free(0x{pointer:x})", pointer);
        MarkFree(h, SizeOf(Get(h)));
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
        nint h = LiveBlock($"realloc(0x{pointer:x}, {size})", pointer);
        if (size == 0)
        {
            Free(pointer);
            return 0;
        }
        if (size > Heap.MaxSize) return 0;
        long asize = BlockSizeFor(size), csize = SizeOf(Get(h));
        if (asize <= csize)
        {
            Shrink(h, asize);
            return pointer;
        }
        // grow in place: absorb a free next block, and move the break if the block (then) ends the heap
        nint next = h + (nint)csize;
        long available = csize;
        if (next < Heap.Break && (Get(next) & AllocatedBit) == 0) available += SizeOf(Get(next));
        bool last = h + (nint)available == Heap.Break;
        if (available >= asize || (last && CanGrow(asize - available)))
        {
            if (available < asize)
            {
                Heap.Sbrk(asize - available);
                available = asize;
            }
            Put(h, available | AllocatedBit | (Get(h) & PrevAllocatedBit));
            Shrink(h, asize);
            return pointer;
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
        nint lo = Heap.HeapLo, end = Heap.Break;
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
        return bytes <= Heap.MaxSize - Heap.Size;
        // END SOLUTION
    }

    /// <summary>Solution helper: first fit. The header of the first free block of at least asize bytes from the start of
    /// the heap (0 if none); <paramref name="lastFree"/> is the last block's header when that block is free (else 0).
    /// (Best fit was tried too: on the bundled traces it wastes more, because it leaves the realloc'ed buffers no room to grow.)</summary>
    nint FindFit(long asize, out nint lastFree)
    {
        // BEGIN SOLUTION
        lastFree = 0;
        if (Heap.Size == 0) return 0;
        nint end = Heap.Break;
        for (nint h = Heap.HeapLo + WordSize; h < end;)
        {
            long w = Get(h), s = SizeOf(w);
            bool free = (w & AllocatedBit) == 0;
            if (free && s >= asize) return h;
            if (free && h + (nint)s == end) lastFree = h;
            h += (nint)s;
        }
        return 0;
        // END SOLUTION
    }

    /// <summary>Solution helper: moves the break so that a free block of at least asize bytes ends the heap (merged
    /// with <paramref name="lastFree"/>, the free block that ended it, if any); its header, or 0 when there is no room.</summary>
    nint Extend(long asize, nint lastFree)
    {
        // BEGIN SOLUTION
        if (Heap.Size == 0)
        {
            if (!CanGrow(WordSize + asize)) return 0;
            Heap.Sbrk(WordSize); // the pad that aligns payloads
        }
        long have = lastFree == 0 ? 0 : SizeOf(Get(lastFree));
        if (!CanGrow(asize - have)) return 0;
        // grow by a little more than missing (1/16 of the heap), so that Place can put small and large blocks at the ends
        long grow = Math.Max(asize - have, (Heap.Size / 16) & ~(long)(Alignment - 1));
        if (!CanGrow(grow)) grow = asize - have;
        nint grown = Heap.Sbrk(grow);
        asize = have + grow;
        nint h = lastFree != 0 ? lastFree : grown;
        bool prevAllocated = lastFree == 0 || (Get(lastFree) & PrevAllocatedBit) != 0; // no free last block: the last (if any) is allocated
        MarkFree(h, asize, prevAllocated);
        return h;
        // END SOLUTION
    }

    /// <summary>Solution helper: allocates asize bytes of the free block at <paramref name="h"/> and returns the allocated
    /// block's header. When at least 16 bytes are left over the block is split: a small request takes the low end, a
    /// large one (at least <see cref="LargeBlock"/> bytes) the high end, so that small and large blocks gather at
    /// opposite ends of free space, and freed large blocks end up next to each other and merge.</summary>
    nint Place(nint h, long asize)
    {
        // BEGIN SOLUTION
        long w = Get(h), csize = SizeOf(w), prev = w & PrevAllocatedBit;
        long rest = csize - asize;
        if (rest < 2 * WordSize)
        {
            Put(h, csize | AllocatedBit | prev);
            SetPrevAllocated(h + (nint)csize, true);
            return h;
        }
        if (asize < LargeBlock)
        {
            Put(h, asize | AllocatedBit | prev);
            MarkFree(h + (nint)asize, rest, prevAllocated: true);
            return h;
        }
        nint a = h + (nint)rest;
        Put(a, asize | AllocatedBit); // first, so that MarkFree finds a header there
        MarkFree(h, rest, prev != 0); // (which clears a's prev-allocated bit)
        SetPrevAllocated(a + (nint)asize, true);
        return a;
        // END SOLUTION
    }

    /// <summary>Solution helper: cuts the allocated block at <paramref name="h"/> down to asize bytes when at least 16
    /// would be left over, freeing the rest (merged with a free next block).</summary>
    void Shrink(nint h, long asize)
    {
        // BEGIN SOLUTION
        long w = Get(h), csize = SizeOf(w);
        if (csize - asize < 2 * WordSize)
        {
            SetPrevAllocated(h + (nint)csize, true);
            return;
        }
        Put(h, asize | AllocatedBit | (w & PrevAllocatedBit));
        nint rest = h + (nint)asize;
        MarkFree(rest, csize - asize, prevAllocated: true);
        Coalesce(rest);
        // END SOLUTION
    }

    /// <summary>Solution helper: writes a free block's header and footer and clears the next block's prev-allocated bit.
    /// Without <paramref name="prevAllocated"/>, the bit already in the header is kept.</summary>
    void MarkFree(nint h, long size, bool? prevAllocated = null)
    {
        // BEGIN SOLUTION
        bool prev = prevAllocated ?? (Get(h) & PrevAllocatedBit) != 0;
        long w = size | (prev ? PrevAllocatedBit : 0);
        Put(h, w);
        Put(h + (nint)size - WordSize, w);
        SetPrevAllocated(h + (nint)size, false);
        // END SOLUTION
    }

    /// <summary>Solution helper: sets or clears the prev-allocated bit of the block at <paramref name="h"/> (nothing at the break).</summary>
    void SetPrevAllocated(nint h, bool allocated)
    {
        // BEGIN SOLUTION
        if (h >= Heap.Break) return;
        long w = Get(h);
        w = allocated ? w | PrevAllocatedBit : w & ~PrevAllocatedBit;
        Put(h, w);
        if ((w & AllocatedBit) == 0) Put(h + (nint)SizeOf(w) - WordSize, w); // a free block's footer copies its header
        // END SOLUTION
    }

    /// <summary>Solution helper: merges the free block at <paramref name="h"/> with free neighbours; the merged block's header.</summary>
    nint Coalesce(nint h)
    {
        // BEGIN SOLUTION
        long w = Get(h), size = SizeOf(w);
        nint next = h + (nint)size;
        if (next < Heap.Break && (Get(next) & AllocatedBit) == 0) size += SizeOf(Get(next));
        if ((w & PrevAllocatedBit) == 0)
        {
            h -= (nint)SizeOf(Get(h - WordSize)); // the previous block's footer
            size += SizeOf(Get(h));
        }
        MarkFree(h, size);
        return h;
        // END SOLUTION
    }

    /// <summary>Solution helper: the header of the allocated block whose payload is <paramref name="pointer"/>, found by
    /// walking the heap; otherwise a <see cref="HeapMisuseException"/> naming <paramref name="call"/> and the reason.</summary>
    nint LiveBlock(string call, nint pointer)
    {
        // BEGIN SOLUTION
        nint lo = Heap.HeapLo, end = Heap.Break;
        if (pointer < lo || pointer >= end)
            throw new HeapMisuseException($"{call}: not a pointer from this allocator (outside its heap 0x{lo:x}..0x{end:x}); the heap is unchanged");
        if (pointer < lo + 2 * WordSize)
            throw new HeapMisuseException($"{call}: points into the heap's padding or first header, not at a payload; the heap is unchanged");
        for (nint h = lo + WordSize; h < end;)
        {
            long w = Get(h), s = SizeOf(w);
            if (pointer < h + (nint)s)
            {
                if (pointer != h + WordSize)
                    throw new HeapMisuseException($"{call}: points {pointer - h} bytes into the block at offset {h - lo} ({s} bytes), not at a payload malloc returned; the heap is unchanged");
                if ((w & AllocatedBit) == 0)
                    throw new HeapMisuseException($"{call}: double free (the block at offset {h - lo} is already free); the heap is unchanged");
                return h;
            }
            h += (nint)s;
        }
        throw new HeapMisuseException($"{call}: points into the allocator's padding, not at a block; the heap is unchanged");
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

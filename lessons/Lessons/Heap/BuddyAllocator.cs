using System.Numerics;
using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// The buddy scheme over a <see cref="SimulatedBreak"/>. Every block is a power of two of at least
/// <see cref="MinBlockSize"/> bytes, placed at an offset that is a multiple of its size; the buddy of the block at
/// offset o of size s is at <c>o ^ s</c>. Malloc takes the head of the free list of the smallest order that has a
/// block (a bitmap of non-empty lists finds it in one instruction), splitting it in halves down to the order asked
/// for, or grows the break when no free block is large enough; Free merges a block with its free buddy, again and
/// again, and (unless made with trimBreak: false) shrinks the break while the top block is free. Every operation is O(log n) (at most one step per order),
/// without scans.
/// <para>Layout: each block starts with a <see cref="HeaderSize"/>-byte header, its size | 1 when allocated (then the
/// request's size), so payloads are 16-byte aligned. A free block holds its list links after the header. Outside the
/// heap there is one bit per 32 bytes saying where a block starts, so that free and realloc tell a live block from any
/// other pointer in O(1) (a header alone could be forged by the payload in front of it) and the block below the break
/// is found when the top is trimmed.</para>
/// Lesson 03 shows it; lesson 05 runs it on traces as one of its reference allocators (<see cref="IAllocator"/>).
/// Not thread-safe; nobody else may move the break.
/// </summary>
public sealed class BuddyAllocator : IAllocator, IHeapView
{
    /// <summary>Bytes of header in front of each payload (keeps payloads 16-byte aligned).</summary>
    public const int HeaderSize = 16;
    /// <summary>The smallest block: header plus 16 bytes of payload (room for a free block's two links).</summary>
    public const int MinBlockSize = 32;
    const int MinOrder = 5;
    const long None = -1;

    readonly int maxOrder;
    readonly long[] heads;   // first free block of each order, None when empty; links live in the free blocks
    ulong nonEmpty;          // bit k: the list of order k has a block
    ulong[] starts = SideBitmap.Create(); // bit o/32: a block starts at offset o
    readonly nint lo;
    long liveRequested, liveAllocated;

    readonly bool trimBreak;

    /// <summary>
    /// lesson 05's buddy allocator, which keeps its break where it is, as the malloc lab's memlib does (it has no
    /// negative sbrk). Utilization counts the break's high-water mark, so lowering it gains nothing there, and a
    /// simulated break zeroes what it gives back: a trace that frees and allocates a large block at the top again and
    /// again would pay for that on every free.
    /// </summary>
    [Allocator("buddy", "the buddy scheme: power-of-two blocks split and merged with their buddies", Order = 7)]
    public static BuddyAllocator KeepingItsBreak(SimulatedBreak heap) => new(heap, trimBreak: false);

    /// <summary>Manages the heap of <paramref name="heap"/>, which must be empty; the allocator then owns the break.
    /// With <paramref name="trimBreak"/> (lesson 03's), the break comes down while the top block is free.</summary>
    public BuddyAllocator(SimulatedBreak heap, bool trimBreak = true)
    {
        this.trimBreak = trimBreak;
        ArgumentNullException.ThrowIfNull(heap);
        if (heap.Size != 0)
            throw new ArgumentException($"the heap must be empty; its break is {heap.Size} bytes above HeapLo", nameof(heap));
        if (heap.MaxSize < MinBlockSize)
            throw new ArgumentException($"the heap's maximum ({heap.MaxSize} bytes) is smaller than one block", nameof(heap));
        Heap = heap;
        lo = heap.HeapLo;
        maxOrder = Math.Min(62, BitOperations.Log2((ulong)heap.MaxSize));
        heads = new long[maxOrder + 1];
        Array.Fill(heads, None);
    }

    /// <summary>The simulated break this allocator grows and shrinks.</summary>
    public SimulatedBreak Heap { get; }

    /// <inheritdoc/>
    public string Name => "buddy";

    /// <summary>The largest block: the largest power of two not above the heap's maximum size.</summary>
    public long MaxBlockSize => 1L << maxOrder;

    /// <summary>The largest request that can ever succeed.</summary>
    public long MaxRequest => MaxBlockSize - HeaderSize;

    /// <summary>The block size a request of <paramref name="size"/> bytes gets: header plus payload, rounded up to a power of two (0 for 0).</summary>
    public static long BlockSizeFor(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, (1L << 62) - HeaderSize);
        return size == 0 ? 0 : Math.Max(MinBlockSize, (long)BitOperations.RoundUpToPowerOf2((ulong)(size + HeaderSize)));
    }

    static int OrderFor(long size) => BitOperations.Log2((ulong)BlockSizeFor(size));

    /// <summary>
    /// malloc: returns the address of at least <paramref name="size"/> bytes, 16-byte aligned; 0 (NULL) for size 0,
    /// and 0 when the request is larger than <see cref="MaxRequest"/> or no room is left (C's NULL with ENOMEM).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">size is negative.</exception>
    public nint Malloc(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0 || size > MaxRequest) return 0;
        int k = OrderFor(size);
        ulong candidates = nonEmpty >> k;
        long offset;
        if (candidates != 0)
        {
            int j = k + BitOperations.TrailingZeroCount(candidates);
            offset = heads[j];
            Unlink(offset, j);
            while (j > k) // split: keep the lower half, free the upper half (its buddy)
            {
                j--;
                long upper = offset + (1L << j);
                SetStart(upper);
                Push(upper, j);
            }
        }
        else if (!TryGrow(k, out offset))
        {
            return 0;
        }
        Allocate(offset, k, size);
        return lo + (nint)(offset + HeaderSize);
    }

    void Allocate(long offset, int order, long size)
    {
        Word(offset) = (1L << order) | 1;
        Word(offset + 8) = size;
        liveRequested += size;
        liveAllocated += 1L << order;
    }

    // Moves the break up to a fresh block of order k, aligned to its size; the gap below it becomes free blocks.
    // False, with nothing changed, when the break cannot grow that far.
    bool TryGrow(int k, out long aligned)
    {
        long s = 1L << k, top = Heap.Size;
        aligned = (top + s - 1) & ~(s - 1);
        if (aligned > Heap.MaxSize - s)
            return false;
        Heap.Sbrk(aligned + s - top);
        long bits = (aligned + s) / MinBlockSize + 1;
        SideBitmap.Ensure(ref starts, bits);
        while (top < aligned) // each gap block's size is the lowest set bit of its offset, so it is aligned
        {
            long lb = top & -top;
            SetStart(top);
            Push(top, BitOperations.Log2((ulong)lb));
            top += lb;
        }
        SetStart(aligned);
        return true;
    }

    /// <inheritdoc/>
    public unsafe nint Calloc(long count, long size)
    {
        if (!AllocatorRules.TryCallocSize(count, size, MaxRequest, out long total)) return 0;
        nint p = Malloc(total);
        for (long done = 0; p != 0 && done < total;)
        {
            uint chunk = (uint)Math.Min(total - done, 1L << 30);
            Unsafe.InitBlockUnaligned((byte*)p + done, 0, chunk);
            done += chunk;
        }
        return p;
    }

    /// <summary>
    /// realloc: stays in place when the block already holds the new size (a shrink keeps its block), or when it can grow
    /// into free upper buddies to the size needed; otherwise malloc, copy, free.
    /// </summary>
    /// <exception cref="HeapMisuseException">p is not a live block; nothing changes.</exception>
    public unsafe nint Realloc(nint pointer, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (pointer == 0) return Malloc(size);
        long offset = LiveOffset(pointer) ?? throw NotLive($"realloc(ptr={CFormat.Hex(pointer)}, size={size})", pointer);
        if (size == 0)
        {
            Free(pointer);
            return 0;
        }
        if (size > MaxRequest) return 0;
        int order = OrderOf(offset), want = OrderFor(size);
        if (want <= order || TryGrowInPlace(offset, order, want))
        {
            liveRequested += size - Word(offset + 8);
            Word(offset + 8) = size;
            return pointer;
        }
        nint q = Malloc(size);
        if (q == 0) return 0;
        long keep = Math.Min(size, (1L << order) - HeaderSize);
        Buffer.MemoryCopy((void*)pointer, (void*)q, keep, keep);
        Free(pointer);
        return q;
    }

    // A block that is the lower half of each order up to `want` grows by taking its free upper buddies, if all are free
    // and whole (or, at the top of the heap, by moving the break).
    bool TryGrowInPlace(long offset, int order, int want)
    {
        if ((offset & ((1L << want) - 1)) != 0) return false; // not the lower half all the way up
        long top = Heap.Size;
        for (int j = order; j < want; j++)
        {
            long buddy = offset + (1L << j);
            if (buddy == top) break; // the rest lies above the break
            if (!IsStart(buddy) || Word(buddy) != 1L << j) return false;
        }
        long end = offset + (1L << want);
        if (end > top)
        {
            if (end > Heap.MaxSize) return false;
            long bits = end / MinBlockSize + 1;
            SideBitmap.Ensure(ref starts, bits);
        }
        for (int j = order; j < want; j++)
        {
            long buddy = offset + (1L << j);
            if (buddy >= top) break;
            Unlink(buddy, j);
            ClearStart(buddy);
        }
        if (end > top) Heap.Sbrk(end - top);
        Word(offset) = (1L << want) | 1;
        liveAllocated += (1L << want) - (1L << order);
        return true;
    }

    /// <summary>free: gives back a block from <see cref="Malloc"/>; 0 (NULL) does nothing.</summary>
    /// <exception cref="HeapMisuseException">A double free or a pointer Malloc did not return; the heap is unchanged.</exception>
    public void Free(nint p)
    {
        if (p == 0) return;
        long offset = LiveOffset(p) ?? throw NotLive($"free(ptr={CFormat.Hex(p)})", p);
        int order = OrderOf(offset);
        liveRequested -= Word(offset + 8);
        liveAllocated -= 1L << order;
        while (order < maxOrder) // merge with the buddy while it is free and whole
        {
            long buddy = offset ^ (1L << order);
            if (buddy >= Heap.Size || !IsStart(buddy) || Word(buddy) != 1L << order) break;
            Unlink(buddy, order);
            ClearStart(Math.Max(offset, buddy));
            offset = Math.Min(offset, buddy);
            order++;
        }
        if (trimBreak && offset + (1L << order) == Heap.Size)
            TrimFrom(offset);
        else
            Push(offset, order);
    }

    // The free block at `offset` ends at the break: the break comes down to it, and further while the block below is free.
    void TrimFrom(long offset)
    {
        while (true)
        {
            ClearStart(offset);
            if (offset == 0) break;
            long below = PreviousStart(offset);
            long word = Word(below);
            if ((word & 1) != 0) break;
            Unlink(below, BitOperations.Log2((ulong)word));
            offset = below;
        }
        Heap.Sbrk(offset - Heap.Size);
    }

    // The block just below `offset` starts at the nearest start bit under it; blocks tile the heap, so there is one.
    long PreviousStart(long offset)
    {
        long bit = offset / MinBlockSize - 1;
        int w = (int)(bit >> 6);
        ulong word = starts[w] & (ulong.MaxValue >> (63 - (int)(bit & 63)));
        while (word == 0) word = starts[--w];
        return ((long)w * 64 + 63 - BitOperations.LeadingZeroCount(word)) * MinBlockSize;
    }

    // ---- the free lists (links after the header of a free block) and the start bits ----

    unsafe ref long Word(long offset) => ref *(long*)(lo + (nint)offset);

    int OrderOf(long offset) => BitOperations.Log2((ulong)(Word(offset) & ~1L));

    void Push(long offset, int order)
    {
        Word(offset) = 1L << order;
        long head = heads[order];
        Word(offset + 16) = head;    // next
        Word(offset + 24) = None;    // previous
        if (head != None) Word(head + 24) = offset;
        heads[order] = offset;
        nonEmpty |= 1UL << order;
    }

    void Unlink(long offset, int order)
    {
        long next = Word(offset + 16), prev = Word(offset + 24);
        if (prev != None) Word(prev + 16) = next;
        else heads[order] = next;
        if (next != None) Word(next + 24) = prev;
        if (heads[order] == None) nonEmpty &= ~(1UL << order);
    }

    bool IsStart(long offset)
    {
        long bit = offset / MinBlockSize;
        return (starts[bit >> 6] & (1UL << (int)(bit & 63))) != 0;
    }

    void SetStart(long offset)
    {
        long bit = offset / MinBlockSize;
        starts[bit >> 6] |= 1UL << (int)(bit & 63);
    }

    void ClearStart(long offset)
    {
        long bit = offset / MinBlockSize;
        starts[bit >> 6] &= ~(1UL << (int)(bit & 63));
    }

    // The block offset of a live payload, or null: inside the heap, at a block start, allocated.
    long? LiveOffset(nint p)
    {
        long offset = (long)p - (long)lo - HeaderSize;
        if (offset < 0 || offset >= Heap.Size || offset % MinBlockSize != 0 || !IsStart(offset)) return null;
        return (Word(offset) & 1) != 0 ? offset : null;
    }

    // Built only on failure: formatting the call on every free would cost more than the free itself.
    HeapMisuseException NotLive(string call, nint p)
    {
        long offset = (long)p - (long)lo - HeaderSize;
        bool freeBlock = offset >= 0 && offset < Heap.Size && offset % MinBlockSize == 0 && IsStart(offset);
        return new HeapMisuseException(freeBlock
            ? $"{call}: double free (the block at offset {offset} is already free)"
            : $"{call}: not a pointer returned by malloc (no block's payload starts there)");
    }

    /// <summary>Every block in address order; together they tile [HeapLo, Break) exactly.</summary>
    public IReadOnlyList<BlockInfo> Blocks()
    {
        var list = new List<BlockInfo>();
        for (long offset = 0; offset < Heap.Size;)
        {
            long word = Word(offset), size = word & ~1L;
            list.Add(new BlockInfo(offset, size, (word & 1) != 0));
            offset += size;
        }
        return list;
    }

    /// <summary>The block size of a live pointer from <see cref="Malloc"/>.</summary>
    /// <exception cref="HeapMisuseException">p is not a live pointer from malloc.</exception>
    public long BlockSizeOf(nint p) => LiveOffset(p) is { } offset
        ? 1L << OrderOf(offset)
        : throw new HeapMisuseException($"BlockSizeOf({CFormat.Hex(p)}): {CFormat.Hex(p)} is not a live pointer from malloc");

    /// <summary>Bytes asked for by live blocks.</summary>
    public long Requested => liveRequested;

    /// <summary>Bytes in live blocks (headers included).</summary>
    public long Allocated => liveAllocated;

    /// <summary>Internal fragmentation: bytes of live blocks that were not asked for (rounding and headers).</summary>
    public long InternalFragmentation => Allocated - liveRequested;

    public override string ToString() =>
        $"BuddyAllocator: {Blocks().Count} blocks, {Allocated} bytes live ({liveRequested} requested), break {Heap.Size} of {Heap.MaxSize}";
}

using System.Numerics;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// The buddy scheme over a <see cref="SimulatedBreak"/>. Every block is a power of two of at least
/// <see cref="MinBlockSize"/> bytes, placed at an offset that is a multiple of its size; the buddy of the block at
/// offset o of size s is at <c>o ^ s</c>. Malloc splits a larger free block in halves, or grows the break when no
/// free block is large enough; Free merges a block with its free buddy, again and again, and shrinks the break
/// while the top block is free. Every operation costs O(log n): the blocks are found by offset in a hash table, the
/// lowest free block of an order in a sorted set per order, and the top block by trying each order that divides the
/// break (at most log2 of the heap's maximum). Each block starts with a <see cref="HeaderSize"/>-byte header (size | allocated bit),
/// so payloads are 16-byte aligned. The bookkeeping itself lives in managed memory, so a bad free cannot corrupt it.
/// Lesson 03 shows it; lesson 05 runs it on traces as one of its reference allocators (<see cref="IAllocator"/>).
/// Not thread-safe; nobody else may move the break.
/// </summary>
[Allocator("buddy", "the buddy scheme: power-of-two blocks split and merged with their buddies", Order = 7)]
public sealed class BuddyAllocator : IAllocator, IHeapView
{
    /// <summary>Bytes of header in front of each payload (keeps payloads 16-byte aligned).</summary>
    public const int HeaderSize = 16;
    /// <summary>The smallest block: header plus 16 bytes of payload.</summary>
    public const int MinBlockSize = 32;
    const int MinOrder = 5;

    readonly int maxOrder;
    readonly Dictionary<long, Block> blocks = new(); // by offset; tiles [0, Heap.Size)
    readonly SortedSet<long>[] free;                  // free block offsets by order
    long liveRequested, liveAllocated;

    sealed class Block(int order) { public int Order = order; public bool Free; public long Requested; }

    /// <summary>Manages the heap of <paramref name="heap"/>, which must be empty; the allocator then owns the break.</summary>
    public BuddyAllocator(SimulatedBreak heap)
    {
        ArgumentNullException.ThrowIfNull(heap);
        if (heap.Size != 0)
            throw new ArgumentException($"the heap must be empty; its break is {heap.Size} bytes above HeapLo", nameof(heap));
        if (heap.MaxSize < MinBlockSize)
            throw new ArgumentException($"the heap's maximum ({heap.MaxSize} bytes) is smaller than one block", nameof(heap));
        Heap = heap;
        maxOrder = BitOperations.Log2((ulong)heap.MaxSize);
        free = new SortedSet<long>[maxOrder + 1];
        for (int i = 0; i <= maxOrder; i++) free[i] = new SortedSet<long>();
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

    /// <summary>
    /// malloc: returns the address of at least <paramref name="size"/> bytes, 16-byte aligned; 0 (NULL) for size 0,
    /// and 0 when the request is larger than <see cref="MaxRequest"/> or no room is left (C's NULL with ENOMEM).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">size is negative.</exception>
    public nint Malloc(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0 || size > MaxRequest) return 0;
        long blockSize = BlockSizeFor(size);
        int k = BitOperations.Log2((ulong)blockSize);

        int j = k;
        while (j <= maxOrder && free[j].Count == 0) j++;
        long offset;
        if (j <= maxOrder)
        {
            offset = free[j].Min;
            free[j].Remove(offset);
            blocks[offset].Free = false; // so the halves split off below never merge back into it
            while (j > k) // split: keep the lower half, free the upper half (its buddy)
            {
                j--;
                AddFree(offset + (1L << j), j);
            }
            blocks[offset].Order = k;
        }
        else if (!TryGrow(k, out offset))
        {
            return 0;
        }
        Block b = blocks[offset];
        b.Free = false;
        b.Requested = size;
        liveRequested += size;
        liveAllocated += blockSize;
        WriteHeader(offset, blockSize, allocated: true);
        return Heap.HeapLo + (nint)(offset + HeaderSize);
    }

    // Moves the break up to a fresh block of order k, aligned to its size; the gap below it becomes free blocks.
    // False, with nothing changed, when the break cannot grow that far.
    bool TryGrow(int k, out long aligned)
    {
        long s = 1L << k, top = Heap.Size;
        aligned = (top + s - 1) & ~(s - 1);
        if (aligned + s > Heap.MaxSize)
            return false;
        Heap.Sbrk(aligned + s - top);
        while (top < aligned) // each gap block's size is the lowest set bit of its offset, so it is aligned
        {
            long lb = top & -top;
            AddFree(top, BitOperations.Log2((ulong)lb));
            top += lb;
        }
        blocks[aligned] = new Block(k);
        return true;
    }

    /// <inheritdoc/>
    public unsafe nint Calloc(long count, long size)
    {
        if (!AllocatorRules.TryCallocSize(count, size, MaxRequest, out long total)) return 0;
        nint p = Malloc(total);
        if (p != 0) new Span<byte>((void*)p, checked((int)total)).Clear();
        return p;
    }

    /// <summary>realloc: stays in place while the new size needs the same power-of-two block; otherwise malloc, copy, free.</summary>
    /// <exception cref="HeapMisuseException">p is not a live block; nothing changes.</exception>
    public unsafe nint Realloc(nint pointer, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (pointer == 0) return Malloc(size);
        long block = BlockSizeOf(pointer, $"realloc(ptr={CFormat.Hex(pointer)}, size={size})");
        if (size == 0)
        {
            Free(pointer);
            return 0;
        }
        if (size > MaxRequest) return 0;
        if (BlockSizeFor(size) == block) return pointer;
        nint q = Malloc(size);
        if (q == 0) return 0;
        long keep = Math.Min(size, block - HeaderSize);
        Buffer.MemoryCopy((void*)pointer, (void*)q, keep, keep);
        Free(pointer);
        return q;
    }

    /// <summary>free: gives back a block from <see cref="Malloc"/>; 0 (NULL) does nothing.</summary>
    /// <exception cref="HeapMisuseException">A double free or a pointer Malloc did not return; the heap is unchanged.</exception>
    public void Free(nint p)
    {
        if (p == 0) return;
        string call = $"free(ptr={CFormat.Hex(p)})";
        long offset = (long)p - (long)Heap.HeapLo - HeaderSize;
        if (offset < 0 || offset >= Heap.Size || !blocks.TryGetValue(offset, out Block? b))
            throw new HeapMisuseException($"{call}: not a pointer returned by malloc (no block's payload starts there)");
        if (b.Free)
            throw new HeapMisuseException($"{call}: double free (the block at offset {offset} is already free)");
        liveRequested -= b.Requested;
        liveAllocated -= 1L << b.Order;
        b.Requested = 0;
        blocks.Remove(offset);
        AddFree(offset, b.Order);
        TrimTop();
    }

    // Inserts a free block, merging it with its buddy while the buddy is free and whole.
    void AddFree(long offset, int order)
    {
        while (order < maxOrder)
        {
            long buddy = offset ^ (1L << order);
            if (!blocks.TryGetValue(buddy, out Block? bb) || !bb.Free || bb.Order != order) break;
            free[order].Remove(buddy);
            blocks.Remove(buddy);
            offset = Math.Min(offset, buddy);
            blocks.Remove(offset);
            order++;
        }
        blocks[offset] = new Block(order) { Free = true };
        free[order].Add(offset);
        WriteHeader(offset, 1L << order, allocated: false);
    }

    // Shrinks the break while the top block is free.
    void TrimTop()
    {
        long top = Heap.Size;
        while (top > 0)
        {
            long offset = TopBlock(top, out Block b);
            if (!b.Free) break;
            blocks.Remove(offset);
            free[b.Order].Remove(offset);
            top = offset;
        }
        if (top != Heap.Size)
            Heap.Sbrk(top - Heap.Size);
    }

    // The block that ends at top (> 0): it is aligned to its size, so its order is one whose power of two divides top.
    long TopBlock(long top, out Block block)
    {
        for (int order = Math.Min(maxOrder, BitOperations.TrailingZeroCount(top)); order >= MinOrder; order--)
        {
            long offset = top - (1L << order);
            if (blocks.TryGetValue(offset, out Block? b) && b.Order == order)
            {
                block = b;
                return offset;
            }
        }
        throw new InvalidOperationException($"buddy bookkeeping: no block ends at offset {top}");
    }

    void WriteHeader(long offset, long blockSize, bool allocated) =>
        Marshal.WriteInt64(Heap.HeapLo + (nint)offset, blockSize | (allocated ? 1L : 0L));

    /// <summary>Every block in address order; together they tile [HeapLo, Break) exactly.</summary>
    public IReadOnlyList<BlockInfo> Blocks() =>
        blocks.OrderBy(kv => kv.Key).Select(kv => new BlockInfo(kv.Key, 1L << kv.Value.Order, !kv.Value.Free)).ToList();

    /// <summary>The block size of a live pointer from <see cref="Malloc"/>.</summary>
    /// <exception cref="HeapMisuseException">p is not a live pointer from malloc.</exception>
    public long BlockSizeOf(nint p) => BlockSizeOf(p, $"BlockSizeOf({CFormat.Hex(p)})");

    long BlockSizeOf(nint p, string call) =>
        blocks.TryGetValue((long)p - (long)Heap.HeapLo - HeaderSize, out Block? b) && !b.Free
            ? 1L << b.Order
            : throw new HeapMisuseException($"{call}: {CFormat.Hex(p)} is not a live pointer from malloc");

    /// <summary>Bytes asked for by live blocks.</summary>
    public long Requested => liveRequested;

    /// <summary>Bytes in live blocks (headers included).</summary>
    public long Allocated => liveAllocated;

    /// <summary>Internal fragmentation: bytes of live blocks that were not asked for (rounding and headers).</summary>
    public long InternalFragmentation => Allocated - liveRequested;

    public override string ToString() =>
        $"BuddyAllocator: {blocks.Count} blocks, {Allocated} bytes live ({liveRequested} requested), break {Heap.Size} of {Heap.MaxSize}";
}

using System.Numerics;
using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// What lesson 05's allocators share: the argument rules of <see cref="IAllocator"/> (negative sizes, 0, sizes no heap
/// can hold, calloc overflow, realloc's special cases) and the check that a pointer given to free or realloc is a live
/// block. By default that check uses a bitmap with one bit per 16 bytes of heap (set where a live payload starts), kept
/// outside the heap, so a bad free is refused in O(1) and cannot corrupt anything; a subclass that can tell a live block
/// from its own bookkeeping passes <c>checksLiveBlocks: true</c> and overrides <see cref="IsLiveBlock"/> instead. A
/// subclass implements the block operations. Not thread-safe; nobody else may move the break.
/// </summary>
public abstract class ArenaAllocator : IAllocator, IHeapView
{
    ulong[]? live; // null when the subclass checks live blocks itself
    readonly nint lo;

    /// <summary>Takes over <paramref name="heap"/>, which must be empty. With <paramref name="checksLiveBlocks"/>, no
    /// bitmap is kept: <see cref="IsLiveBlock"/> decides whether a pointer is a live block.</summary>
    protected ArenaAllocator(SimulatedBreak heap, bool checksLiveBlocks = false)
    {
        if (!checksLiveBlocks) live = SideBitmap.Create();
        ArgumentNullException.ThrowIfNull(heap);
        if (heap.Size != 0)
            throw new ArgumentException($"the heap must be empty; its break is {heap.Size} bytes above HeapLo", nameof(heap));
        Heap = heap;
        lo = heap.HeapLo;
        MaxHeapSize = heap.MaxSize;
    }

    /// <inheritdoc/>
    public abstract string Name { get; }

    /// <inheritdoc/>
    public SimulatedBreak Heap { get; }

    /// <summary>HeapLo, cached.</summary>
    protected nint Lo => lo;

    /// <summary>The break (Heap.Break, without the arena handle's checks).</summary>
    protected nint End => lo + (nint)Heap.Size;

    /// <summary>Bytes of header in front of each payload (for error messages).</summary>
    protected abstract int HeaderSize { get; }

    /// <summary>Allocates a block with room for <paramref name="size"/> bytes (1 ≤ size ≤ Heap.MaxSize); 0 when the heap cannot grow enough.</summary>
    protected abstract nint AllocateBlock(long size);

    /// <summary>Frees the live block at <paramref name="payload"/>.</summary>
    protected abstract void FreeBlock(nint payload);

    /// <summary>How many payload bytes the live block at <paramref name="payload"/> can hold.</summary>
    protected abstract long Capacity(nint payload);

    /// <summary>Resizes the live block (1 ≤ size ≤ Heap.MaxSize); by default allocate, copy, free. 0 leaves it untouched.</summary>
    protected virtual nint ReallocateBlock(nint payload, long size)
    {
        long capacity = Capacity(payload);
        if (size <= capacity) return payload;
        nint q = AllocateBlock(size);
        if (q == 0) return 0;
        Copy(payload, q, capacity);
        FreeBlock(payload);
        return q;
    }

    /// <summary>memmove.</summary>
    protected static unsafe void Copy(nint from, nint to, long bytes) =>
        Buffer.MemoryCopy((void*)from, (void*)to, bytes, bytes);

    /// <summary>True when the break can move up by <paramref name="increment"/> bytes.</summary>
    protected bool CanGrow(long increment) => increment <= MaxHeapSize - Heap.Size;

    /// <summary>The most the heap may grow to: Heap.MaxSize, unless a subclass sets less (e.g. for 32-bit offsets).</summary>
    protected long MaxHeapSize { get; init; }

    /// <summary>Moves the break up (after <see cref="CanGrow"/>), returning the old break.</summary>
    protected nint Grow(long increment)
    {
        nint old = Heap.Sbrk(increment);
        if (live is not null) SideBitmap.Ensure(ref live, Heap.Size / 16 + 1);
        return old;
    }

    /// <inheritdoc/>
    public nint Malloc(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0 || size > Heap.MaxSize) return 0;
        nint p = AllocateBlock(size);
        if (p != 0) SetLive(p);
        return p;
    }

    /// <inheritdoc/>
    public unsafe nint Calloc(long count, long size)
    {
        if (!AllocatorRules.TryCallocSize(count, size, Heap.MaxSize, out long total)) return 0;
        nint p = Malloc(total);
        for (long done = 0; p != 0 && done < total;)
        {
            uint chunk = (uint)Math.Min(total - done, 1L << 30);
            Unsafe.InitBlockUnaligned((byte*)p + done, 0, chunk);
            done += chunk;
        }
        return p;
    }

    /// <inheritdoc/>
    public nint Realloc(nint pointer, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (pointer == 0) return Malloc(size);
        if (!IsLive(pointer)) throw Misuse($"realloc(ptr={CFormat.Hex(pointer)}, size={size})", pointer);
        if (size == 0)
        {
            Free(pointer);
            return 0;
        }
        if (size > Heap.MaxSize) return 0;
        nint q = ReallocateBlock(pointer, size);
        if (q != 0 && q != pointer)
        {
            ClearLive(pointer);
            SetLive(q);
        }
        return q;
    }

    /// <inheritdoc/>
    public void Free(nint pointer)
    {
        if (pointer == 0) return;
        if (!IsLive(pointer)) throw Misuse($"free(ptr={CFormat.Hex(pointer)})", pointer);
        ClearLive(pointer);
        FreeBlock(pointer);
    }

    /// <summary>True when <paramref name="pointer"/> is a payload this allocator returned and nobody freed.</summary>
    public bool IsLive(nint pointer)
    {
        long off = (long)pointer - (long)lo;
        if (off < 0 || off >= Heap.Size || (off & 15) != 0) return false;
        if (live is null) return IsLiveBlock(pointer);
        long bit = off >> 4;
        return (live[bit >> 6] & (1UL << (int)(bit & 63))) != 0;
    }

    /// <summary>Whether <paramref name="pointer"/> (16-byte aligned, inside the heap) is a live payload, for a subclass
    /// made with <c>checksLiveBlocks: true</c>: no bytes a payload's owner writes may fool it, except by a chance too
    /// small to matter ("headerless" reads 64-bit tags that an owner's bytes match 1 time in 2^64).</summary>
    protected virtual bool IsLiveBlock(nint pointer) => throw new InvalidOperationException($"{Name} keeps no live-block bitmap and does not override IsLiveBlock");

    /// <inheritdoc/>
    public abstract IReadOnlyList<BlockInfo> Blocks();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void SetLive(nint p)
    {
        if (live is null) return;
        long bit = ((long)p - (long)lo) >> 4;
        live[bit >> 6] |= 1UL << (int)(bit & 63);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void ClearLive(nint p)
    {
        if (live is null) return;
        long bit = ((long)p - (long)lo) >> 4;
        live[bit >> 6] &= ~(1UL << (int)(bit & 63));
    }

    // Built only on failure: formatting the call on every free would cost more than the free itself.
    HeapMisuseException Misuse(string call, nint p)
    {
        long off = (long)p - (long)lo;
        if (off < 0 || off >= Heap.Size)
            return new HeapMisuseException($"{call}: not a pointer from this allocator (outside its heap {CFormat.Hex(lo)}..{CFormat.Hex(Heap.Break)}); the heap is unchanged");
        if (DescribeMisuse(off) is { } described)
            return new HeapMisuseException($"{call}: {described}; the heap is unchanged");
        foreach (var b in Blocks())
        {
            if (off < b.Offset || off >= b.Offset + b.Size) continue;
            if (off == b.Offset + HeaderSize && !b.Allocated)
                return new HeapMisuseException($"{call}: double free (the block at offset {b.Offset} is already free); the heap is unchanged");
            return new HeapMisuseException($"{call}: points {off - b.Offset} bytes into the {(b.Allocated ? "allocated" : "free")} block at offset {b.Offset} " +
                $"({b.Size} bytes), not at a payload malloc returned; the heap is unchanged");
        }
        return new HeapMisuseException($"{call}: points into the allocator's bookkeeping at offset {off}, not at a block; the heap is unchanged");
    }

    /// <summary>What is wrong with freeing the (not live) pointer at <paramref name="offset"/> from HeapLo, when the
    /// allocator knows better than the block list (e.g. a cell of a slab); null to describe it from <see cref="Blocks"/>.</summary>
    protected virtual string? DescribeMisuse(long offset) => null;

    /// <summary>Bytes in allocated blocks and in free blocks (headers included).</summary>
    public (long Allocated, long Free) Usage()
    {
        long a = 0, f = 0;
        foreach (var b in Blocks()) if (b.Allocated) a += b.Size; else f += b.Size;
        return (a, f);
    }

    public override string ToString()
    {
        var (a, f) = Usage();
        return $"{Name}: {Blocks().Count} blocks, {a} bytes allocated, {f} free, break {Heap.Size} of {Heap.MaxSize}";
    }
}

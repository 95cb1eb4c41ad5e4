using Lessons.L03_ProgramBreak;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// Lesson 03's <see cref="BuddyAllocator"/> behind the <see cref="IAllocator"/> contract: out of memory returns 0
/// instead of throwing, an invalid free throws <see cref="HeapMisuseException"/>, and realloc stays in place while the
/// new size needs the same power-of-two block.
/// </summary>
public sealed class BuddyAdapter : IAllocator, IHeapView
{
    /// <summary>Takes over <paramref name="heap"/>, which must be empty.</summary>
    public BuddyAdapter(SimulatedBreak heap) => Buddy = new BuddyAllocator(heap);

    /// <summary>The buddy allocator underneath.</summary>
    public BuddyAllocator Buddy { get; }

    /// <inheritdoc/>
    public string Name => "buddy";

    /// <inheritdoc/>
    public SimulatedBreak Heap => Buddy.Heap;

    /// <inheritdoc/>
    public nint Malloc(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0 || size > Buddy.MaxRequest) return 0;
        try { return Buddy.Malloc(size); }
        catch (PosixException e) when (e.Errno == Errno.ENOMEM) { return 0; }
    }

    /// <inheritdoc/>
    public unsafe nint Calloc(long count, long size)
    {
        if (!AllocatorRules.TryCallocSize(count, size, Buddy.MaxRequest, out long total)) return 0;
        nint p = Malloc(total);
        if (p != 0) new Span<byte>((void*)p, checked((int)total)).Clear();
        return p;
    }

    /// <inheritdoc/>
    public unsafe nint Realloc(nint pointer, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (pointer == 0) return Malloc(size);
        long block = BlockSizeOf($"realloc(ptr={Checked.Hex(pointer)}, size={size})", pointer);
        if (size == 0)
        {
            Free(pointer);
            return 0;
        }
        if (size > Buddy.MaxRequest) return 0;
        if (BuddyAllocator.BlockSizeFor(size) == block) return pointer;
        nint q = Malloc(size);
        if (q == 0) return 0;
        long keep = Math.Min(size, block - BuddyAllocator.HeaderSize);
        Buffer.MemoryCopy((void*)pointer, (void*)q, keep, keep);
        Buddy.Free(pointer);
        return q;
    }

    /// <inheritdoc/>
    public void Free(nint pointer)
    {
        try { Buddy.Free(pointer); }
        catch (InvalidFreeException e) { throw new HeapMisuseException(e.Message); }
    }

    long BlockSizeOf(string call, nint pointer)
    {
        try { return Buddy.BlockSizeOf(pointer); }
        catch (InvalidFreeException e) { throw new HeapMisuseException($"{call}: {e.Message}"); }
    }

    /// <inheritdoc/>
    public IReadOnlyList<BlockInfo> Blocks() => Buddy.Blocks().Select(b => new BlockInfo(b.Offset, b.Size, !b.Free)).ToList();

    public override string ToString() => Buddy.ToString();
}

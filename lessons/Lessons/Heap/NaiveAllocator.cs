
namespace Lessons.Heap;

/// <summary>
/// The simplest allocator, like the malloc lab's mm-naive: every malloc moves the break up by a new block and free
/// never gives anything back. Each block is an 8-byte header (size | allocated bit) followed by the payload, rounded
/// up to 16 bytes; the heap starts with 8 bytes of padding so payloads are 16-byte aligned. Free checks the pointer
/// and clears the allocated bit (so pictures show the hole), nothing more. Realloc allocates, copies and frees.
/// </summary>
[Allocator("naive", "the break moves up for every malloc; free gives nothing back (mm-naive)", Order = 1)]
public sealed class NaiveAllocator : ArenaAllocator
{
    const int Header = 8;

    /// <summary>Takes over <paramref name="heap"/>, which must be empty.</summary>
    public NaiveAllocator(SimulatedBreak heap) : base(heap) => Grow(Header);

    /// <inheritdoc/>
    public override string Name => "naive";

    /// <inheritdoc/>
    protected override int HeaderSize => Header;

    /// <inheritdoc/>
    protected override nint AllocateBlock(long size)
    {
        long blockSize = BoundaryTags.Align(size + Header);
        if (!CanGrow(blockSize)) return 0;
        nint block = Grow(blockSize);
        BoundaryTags.Put(block, blockSize | BoundaryTags.AllocatedBit);
        return block + Header;
    }

    /// <inheritdoc/>
    protected override void FreeBlock(nint payload) =>
        BoundaryTags.Put(payload - Header, BoundaryTags.SizeOf(BoundaryTags.Get(payload - Header)));

    /// <inheritdoc/>
    protected override long Capacity(nint payload) => BoundaryTags.SizeOf(BoundaryTags.Get(payload - Header)) - Header;

    /// <inheritdoc/>
    public override IReadOnlyList<BlockInfo> Blocks()
    {
        var list = new List<BlockInfo>();
        long end = Heap.Size;
        for (long off = Header; off < end;)
        {
            long w = BoundaryTags.Get(Lo + (nint)off);
            long size = BoundaryTags.SizeOf(w);
            if (size <= 0) break; // corrupted: stop rather than loop
            list.Add(new BlockInfo(off, size, (w & BoundaryTags.AllocatedBit) != 0));
            off += size;
        }
        return list;
    }
}

namespace Lessons.Heap;

/// <summary>What <see cref="CheckingHeap.Check"/> can find.</summary>
public enum HeapProblemKind
{
    /// <summary>A byte of a freed (quarantined) block is no longer the poison value: someone wrote through a dangling pointer.</summary>
    WriteAfterFree,
    /// <summary>A guard byte right after a block changed: someone wrote past the block's end.</summary>
    Overflow,
}

/// <summary>A corruption found by <see cref="CheckingHeap.Check"/>: which block, the first damaged offset, how many bytes.</summary>
public sealed record HeapProblem(HeapProblemKind Kind, HeapBlock Block, long Offset, int DamagedBytes, byte Found)
{
    public override string ToString() => Kind switch
    {
        HeapProblemKind.WriteAfterFree =>
            $"Invalid write after free: {DamagedBytes} byte(s) changed in the freed block 0x{Block.Address:x} ({Block.Size} bytes), " +
            $"first at offset {Offset} (now 0x{Found:x2})\n   allocated at {Block.AllocatedAt}\n   freed at {Block.FreedAt}",
        _ =>
            $"Heap overflow: {DamagedBytes} guard byte(s) after the block 0x{Block.Address:x} ({Block.Size} bytes) changed, " +
            $"first at offset {Offset} (now 0x{Found:x2})\n   allocated at {Block.AllocatedAt}" +
            (Block.FreedAt is null ? "" : $"\n   freed at {Block.FreedAt}"),
    };
}

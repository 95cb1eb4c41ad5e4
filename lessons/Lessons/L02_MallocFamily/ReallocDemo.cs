namespace Lessons.L02_MallocFamily;

/// <summary>One realloc: where the block was, where it is now, what was right after it, and whether the contents came along.</summary>
public sealed record ReallocDemo(string Case, long OldSize, long NewSize, nint Before, nint After, nint Neighbour, bool NeighbourFree, bool ContentsKept)
{
    public bool Moved => Before != After;

    public override string ToString() =>
        $"{Case}: realloc(0x{Before:x}, {OldSize} → {NewSize}) = 0x{After:x}; next block 0x{Neighbour:x} (+{Neighbour - Before} bytes, {(NeighbourFree ? "free" : "in use")}); " +
        $"moved: {(Moved ? "yes" : "no")}; contents kept: {(ContentsKept ? "yes" : "no")}";
}

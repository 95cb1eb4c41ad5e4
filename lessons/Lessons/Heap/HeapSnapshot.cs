namespace Lessons.Heap;

/// <summary>An allocator's heap after one step of a demonstration: what was done, its blocks, and the break (bytes above HeapLo).</summary>
public sealed record HeapSnapshot(string Step, IReadOnlyList<BlockInfo> Blocks, long Break)
{
    /// <summary>The current blocks and break of <paramref name="allocator"/>, labelled <paramref name="step"/>.</summary>
    public static HeapSnapshot Of(IHeapView allocator, string step)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        return new HeapSnapshot(step, allocator.Blocks(), allocator.Heap.Size);
    }

    public override string ToString() => $"{Step,-22} break {Break,6}  " + string.Join(" ", Blocks);
}

namespace Lessons.L02_MallocFamily;

/// <summary>One point of the staircase: what malloc_usable_size says for a request.</summary>
public sealed record UsablePoint(long Request, long Usable);

/// <summary>What the staircase shows: the smallest block, the step between sizes, and the largest waste.</summary>
public sealed record Staircase(IReadOnlyList<UsablePoint> Points, long SmallestUsable, long Step, int StepCount, long MaxSlack)
{
    public override string ToString() =>
        $"requests {Points[0].Request}..{Points[^1].Request}: smallest block holds {SmallestUsable} bytes; usable size grows in steps of {Step} bytes " +
        $"({StepCount} steps); at most {MaxSlack} bytes more than asked";
}

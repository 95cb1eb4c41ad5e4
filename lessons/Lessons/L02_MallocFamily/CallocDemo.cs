namespace Lessons.L02_MallocFamily;

/// <summary>calloc after a dirty block of the same size was freed: is every byte 0? <c>Attempts</c>: tries it took.</summary>
public sealed record CallocDemo(long Size, nint Dirty, nint Zeroed, long NonZeroBytes)
{
    public bool SameAddress => Dirty == Zeroed;

    public int Attempts { get; init; } = 1;

    public override string ToString() =>
        $"calloc(1, {Size}) = 0x{Zeroed:x} (the freed dirty block was 0x{Dirty:x}, same address: {(SameAddress ? "yes" : "no")}); non-zero bytes: {NonZeroBytes}{(Attempts > 1 ? $"; tries: {Attempts}" : "")}";
}

namespace Lessons.L02_MallocFamily;

/// <summary>What a second malloc of the same size found: the same address, and how many of the old pattern bytes were still there.</summary>
public sealed record GarbageDemo(long Size, byte Pattern, nint First, nint Second, int PatternBytesLeft, string FirstBytes)
{
    /// <summary>malloc returned the block freed just before.</summary>
    public bool SameAddress => First == Second;

    public override string ToString() =>
        $"first malloc({Size}) = 0x{First:x}, filled with 0x{Pattern:x2}, freed; second malloc({Size}) = 0x{Second:x} " +
        $"(same address: {(SameAddress ? "yes" : "no")}); {PatternBytesLeft} of {Size} bytes still 0x{Pattern:x2}; first 24 bytes: {FirstBytes}";
}

using System.Globalization;

namespace Lessons.Posix;

/// <summary>
/// One line of /proc/buddyinfo: the kernel's page allocator (a buddy allocator) for one memory zone of one NUMA node,
/// with how many free blocks of 2^order contiguous pages it holds for each order 0, 1, 2, ….
/// </summary>
public sealed record BuddyZone(int Node, string Zone, IReadOnlyList<long> FreeBlocks)
{
    /// <summary>Free blocks of 2^<paramref name="order"/> pages.</summary>
    public long BlocksOfOrder(int order) => FreeBlocks[order];

    /// <summary>The largest order this kernel keeps (MAX_PAGE_ORDER: 10 on x86-64, blocks of 1,024 pages).</summary>
    public int MaxOrder => FreeBlocks.Count - 1;

    /// <summary>All free pages of the zone: Σ blocks × 2^order.</summary>
    public long FreePages => FreeBlocks.Select((n, order) => n << order).Sum();

    public override string ToString() =>
        $"node {Node} {Zone,-8}" + string.Concat(FreeBlocks.Select(n => $"{n,7}"));

    /// <summary>Column titles for <see cref="ToString"/>: the block size of each order in pages.</summary>
    public static string Header(int maxOrder) =>
        $"{"pages per block:",-15}" + string.Concat(Enumerable.Range(0, maxOrder + 1).Select(o => $"{1L << o,7}"));

    public bool Equals(BuddyZone? other) =>
        other is not null && Node == other.Node && Zone == other.Zone && FreeBlocks.SequenceEqual(other.FreeBlocks);

    public override int GetHashCode() => HashCode.Combine(Node, Zone, FreeBlocks.Count);
}

/// <summary>Reads /proc/buddyinfo (Linux): the free blocks of the kernel's buddy page allocator, per zone.</summary>
public static class BuddyInfo
{
    public const string Path = "/proc/buddyinfo";

    /// <summary>The zones of this machine, as the kernel reports them now.</summary>
    public static IReadOnlyList<BuddyZone> Read()
    {
        Checked.RequireLinux(Path);
        return Parse(File.ReadAllLines(Path));
    }

    /// <summary>Parses the lines of a buddyinfo file (empty lines are skipped).</summary>
    public static IReadOnlyList<BuddyZone> Parse(IEnumerable<string> lines) =>
        lines.Where(l => l.Trim().Length > 0).Select(ParseLine).ToList();

    /// <summary>
    /// "Node 0, zone   Normal    515   2194 …": node, zone name, then one count per order. Anything else is a
    /// FormatException quoting the line.
    /// </summary>
    public static BuddyZone ParseLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] parts = line.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 5 || parts[0] != "Node" || parts[2] != "zone"
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int node))
            throw new FormatException($"not a /proc/buddyinfo line: \"{line}\"");
        var counts = new long[parts.Length - 4];
        for (int i = 0; i < counts.Length; i++)
            if (!long.TryParse(parts[i + 4], NumberStyles.None, CultureInfo.InvariantCulture, out counts[i]))
                throw new FormatException($"not a /proc/buddyinfo line: \"{line}\" ('{parts[i + 4]}' is not a count)");
        return new BuddyZone(node, parts[3], counts);
    }
}

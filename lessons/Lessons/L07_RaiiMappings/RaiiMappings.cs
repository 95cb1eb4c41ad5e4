using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.L07_RaiiMappings;

/// <summary>Which of some addresses /proc/self/maps shows as mapped, and how many lines the file had.</summary>
public sealed record MapsCensus(int Lines, IReadOnlyList<nint> Addresses, IReadOnlyList<bool> Mapped)
{
    /// <summary>How many of the addresses lie inside some region.</summary>
    public int MappedCount => Mapped.Count(m => m);

    public override string ToString() =>
        $"{Lines} lines in /proc/self/maps; {MappedCount} of {Addresses.Count} addresses mapped: " +
        string.Join(", ", Addresses.Select((a, i) => $"0x{a:x} {(Mapped[i] ? "mapped" : "not mapped")}"));
}

/// <summary>Where a fresh one-page mapping landed among its neighbours in /proc/self/maps.</summary>
public sealed record RegionOfPage(nint Address, long PageSize, MapsRegion? Region)
{
    /// <summary>The kernel merged the page with a neighbour: its line covers more than the page.</summary>
    public bool Merged => Region is { } r && (r.Start != (ulong)Address || r.Size != (ulong)PageSize);

    public override string ToString() =>
        Region is null ? $"0x{Address:x}: not in /proc/self/maps"
        : $"0x{Address:x} lies in {Region} — {(Merged ? $"merged with a neighbour ({Region.Size / (ulong)PageSize} pages on one line)" : "a line of its own (exactly one page)")}";
}

/// <summary>Lesson 07: owning mapped memory in C# — measuring what is mapped.</summary>
public static class RaiiMappings
{
    /// <summary>Whether some region of /proc/self/maps contains <paramref name="address"/>.</summary>
    public static bool IsMapped(nint address) => ProcMaps.Find(address) is not null;

    /// <summary>One read of /proc/self/maps: its line count and, for each address, whether a region contains it.
    /// Count by containment: the kernel merges adjacent anonymous regions with equal permissions into one line, so
    /// the line count alone need not change when a page is mapped or unmapped.</summary>
    public static MapsCensus Census(params nint[] addresses)
    {
        var regions = ProcMaps.Read();
        return new MapsCensus(regions.Count, addresses,
            addresses.Select(a => regions.Any(r => r.Contains(a))).ToArray());
    }

    /// <summary>The region of /proc/self/maps holding a page-aligned address, and whether it is merged with neighbours.</summary>
    public static RegionOfPage RegionOf(nint address) => new(address, SysConf.PageSize, ProcMaps.Find(address));

    /// <summary>
    /// The address a reference holds at this moment: where the object lies in the managed heap. Only for looking — the
    /// garbage collector may move the object at any time (and then updates every reference it knows of), after which
    /// this number is stale.
    /// </summary>
    public static nint AddressOf(object o) => Unsafe.As<object, nint>(ref o);

    /// <summary>
    /// Makes a <see cref="Mapped{T}"/> and drops it without Dispose, returning only its address (a number, not a
    /// reference): after <c>GC.Collect(); GC.WaitForPendingFinalizers();</c> the SafeHandle's finalizer has unmapped it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static nint Abandon<T>(in T value) where T : unmanaged => new Mapped<T>(value).Address;

    /// <summary>
    /// Maps one region per size, in order, each owned by a <c>using</c> variable, and records each address as soon as
    /// it is mapped; when a later mmap fails the exception leaves this method and every earlier mapping is unmapped on
    /// the way out. Returns the addresses mapped (all of them when nothing failed; the mappings are released either way).
    /// </summary>
    /// <exception cref="PosixException">an mmap failed; <paramref name="mapped"/> holds the addresses mapped before it.</exception>
    public static void MapInTurn(IReadOnlyList<long> sizes, List<nint> mapped)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(mapped);
        MapFrom(sizes, 0, mapped);
    }

    static void MapFrom(IReadOnlyList<long> sizes, int i, List<nint> mapped)
    {
        if (i == sizes.Count) return;
        using var m = Mman.MapAnonymous(sizes[i]);
        mapped.Add(m.Address);
        MapFrom(sizes, i + 1, mapped); // the rest are mapped while this one is still owned
    }
}

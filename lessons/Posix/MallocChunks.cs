namespace Lessons.Posix;

/// <summary>
/// What glibc's malloc shows of a block from outside: whether it got a mapping of its own (blocks at or above the
/// mmap threshold) or was carved from an arena. Shared by lessons 01 and 04.
/// </summary>
public static class MallocChunks
{
    /// <summary>glibc's chunk header: the 8-byte size field sits right before the pointer (64-bit).</summary>
    public const int HeaderBytes = 16;

    /// <summary>
    /// True when the region holding a malloc'd block starts at most 16 bytes before it (glibc's chunk header) and is
    /// about the block's size (less than two pages more): malloc mapped this block on its own instead of carving it
    /// from an arena. Evidence from /proc/self/maps only; the kernel may merge the mapping with an adjacent anonymous
    /// region of the same permissions, and then this says false (compare <see cref="IsMappedByGlibc"/>).
    /// </summary>
    public static bool IsOwnMapping(MapsRegion? region, nint block, long size) =>
        region is { Kind: RegionKind.Anonymous } && (ulong)block >= region.Start && (ulong)block - region.Start <= HeaderBytes
        && region.Size >= (ulong)size && region.Size < (ulong)size + (ulong)SysConf.PageSize * 2;

    /// <summary>
    /// glibc's own mark: bit 1 (IS_MMAPPED) of the chunk's size field, the 8 bytes right before the pointer.
    /// Reads malloc's private header, so only ever pass a live block that glibc's malloc returned.
    /// </summary>
    public static unsafe bool IsMappedByGlibc(nint block) => block != 0 && (((ulong*)block)[-1] & 2) != 0;

    /// <summary>The chunk size glibc recorded in the header (the request plus overhead, rounded up).</summary>
    public static unsafe long ChunkSize(nint block) => (long)(((ulong*)block)[-1] & ~7UL);
}

/// <summary>Fields of /proc/self/status.</summary>
public static class ProcStatus
{
    /// <summary>Resident memory (VmRSS in /proc/self/status): the pages that really sit in RAM, in KiB.</summary>
    public static long ResidentKiB() => KiB("VmRSS:");

    /// <summary>A "Name:   1234 kB" line of /proc/self/status, in KiB.</summary>
    public static long KiB(string field)
    {
        Checked.RequireLinux("/proc/self/status");
        return long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}

using Lessons.Posix;

namespace Lessons.L04_AnonymousMappings;

/// <summary>Where one malloc'd block came from.</summary>
public sealed record HeapOrMapping(long Request, long ChunkSize, nint Address, bool MappedByGlibc, bool OwnMappingInMaps, string? MapsLine)
{
    public string Source => MappedByGlibc ? "own mapping" : "arena";

    public override string ToString() =>
        $"malloc({Request,7}) chunk {ChunkSize,7}  {Source,-11}  maps: {(OwnMappingInMaps ? "a region just its size" : "inside a larger region"),-22}  {MapsLine}";
}

/// <summary>glibc's mmap threshold at work: which malloc blocks get a mapping of their own.</summary>
public static class MmapThreshold
{
    /// <summary>glibc's initial M_MMAP_THRESHOLD: 128 KiB.</summary>
    public const long Default = 128 * 1024;

    /// <summary>Sizes just below, at and above the default threshold, including the exact edge of the chunk-size
    /// comparison (a request of 131048 bytes is a 131056-byte chunk; 131049 bytes is a 131072-byte chunk).</summary>
    public static IReadOnlyList<long> AroundDefault { get; } =
        [64 * 1024, 120 * 1024, Default - 24, Default - 23, Default, 132 * 1024, 256 * 1024];

    /// <summary>Phase name of the first probe in a fresh process.</summary>
    public const string FreshPhase = "fresh";

    /// <summary>Phase name of the second probe, after the first one freed its blocks.</summary>
    public const string AgainPhase = "again";

    /// <summary>One probed block as a tab-separated line: phase, request, chunk size, mapped by glibc, own region in the maps.</summary>
    public static string ToLine(string phase, HeapOrMapping p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return string.Join('\t', phase, p.Request, p.ChunkSize, p.MappedByGlibc ? 1 : 0, p.OwnMappingInMaps ? 1 : 0);
    }

    /// <summary>
    /// Runs <c>workbook mmap-probe</c> as a child process, so the probe sees glibc's threshold as a fresh program
    /// does (in a notebook's process, earlier frees may already have raised it), and returns its blocks by phase.
    /// </summary>
    /// <exception cref="InvalidOperationException">The command failed; the message holds its error output.</exception>
    public static IReadOnlyList<(string Phase, HeapOrMapping Block)> ProbeInChild(string? workbookDll = null, TimeSpan? timeout = null)
    {
        var run = WorkbookCli.Run(["mmap-probe"], workbookDll, timeout);
        if (run.ExitCode != 0)
            throw new InvalidOperationException($"mmap-probe exited with {run.ExitCode}: {run.Stderr.Trim()}");
        return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line =>
        {
            var f = line.Split('\t');
            if (f.Length != 5) throw new FormatException($"not an mmap-probe line: \"{line}\"");
            return (f[0], new HeapOrMapping(long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture),
                long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture), 0, f[3] == "1", f[4] == "1", null));
        }).ToList();
    }

    /// <summary>
    /// Mallocs each size with raw libc calls (largest first, all held until the end so none reuses another's
    /// space), looks each up in /proc/self/maps and in glibc's chunk header, then frees them all.
    /// </summary>
    public static IReadOnlyList<HeapOrMapping> Probe(IReadOnlyList<long>? sizes = null)
    {
        sizes ??= AroundDefault;
        var blocks = new List<(long Size, nint P)>();
        try
        {
            foreach (long s in sizes.OrderByDescending(s => s))
            {
                ArgumentOutOfRangeException.ThrowIfNegative(s, nameof(sizes));
                nint p = Unchecked.Malloc((nuint)s);
                if (p == 0) throw PosixException.FromLastError($"malloc(size={s})");
                blocks.Add((s, p));
            }
            var regions = ProcMaps.Read();
            return blocks.OrderBy(b => b.Size).Select(b =>
            {
                var r = regions.FirstOrDefault(x => x.Contains(b.P));
                return new HeapOrMapping(b.Size, MallocChunks.ChunkSize(b.P), b.P, MallocChunks.IsMappedByGlibc(b.P),
                    MallocChunks.IsOwnMapping(r, b.P, b.Size), AnonymousMappings.MapsLine(b.P));
            }).ToList();
        }
        finally
        {
            foreach (var b in blocks) Unchecked.Free(b.P);
        }
    }
}

using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.L04_AnonymousMappings;

/// <summary>One step of touching pages of a mapping: how many pages were written, the minor faults the calling thread
/// took meanwhile, and the resident memory afterwards.</summary>
public sealed record TouchStep(long Pages, long TotalPages, long MinorFaults, long ResidentKiB)
{
    public override string ToString() =>
        $"touched {Pages,6} new pages ({TotalPages,6} in all): {MinorFaults,6} minor faults, VmRSS {ResidentKiB / 1024.0,8:0.0} MiB";
}

/// <summary>A large anonymous mapping, before and after it is touched page by page.</summary>
public sealed record LazyAllocation(
    long Length, Advice? HugePageAdvice, long ResidentBeforeKiB, long ResidentAfterMapKiB, long FaultsInMmap,
    string? MapsLine, IReadOnlyList<TouchStep> Steps)
{
    public override string ToString() =>
        $"mmap({Length >> 20} MiB){(HugePageAdvice is { } a ? " + " + a : "")}: VmRSS {ResidentBeforeKiB / 1024.0:0.0} → {ResidentAfterMapKiB / 1024.0:0.0} MiB, " +
        $"{FaultsInMmap} faults in mmap" + Environment.NewLine + "  " + MapsLine +
        string.Concat(Steps.Select(s => Environment.NewLine + "  " + s));
}

/// <summary>When the page faults of a mapping happen: during mmap (MAP_POPULATE) or when the pages are first written.</summary>
public sealed record FaultTiming(string How, long Pages, long FaultsInMmap, long FaultsInTouch, long ResidentGrowthAfterMmapKiB, long ResidentGrowthAfterTouchKiB)
{
    public override string ToString() =>
        $"{How,-28} {Pages,6} pages: faults in mmap {FaultsInMmap,6}, in touching {FaultsInTouch,6}; " +
        $"VmRSS +{ResidentGrowthAfterMmapKiB / 1024.0,6:0.0} MiB after mmap, +{ResidentGrowthAfterTouchKiB / 1024.0,6:0.0} MiB after touching";
}

/// <summary>Lesson 04: anonymous mappings — page granularity, lazy allocation, page faults.</summary>
public static class AnonymousMappings
{
    public const long GiB = 1L << 30;

    /// <summary>The page size (sysconf(_SC_PAGESIZE)).</summary>
    public static long PageSize => SysConf.PageSize;

    /// <summary>The line of /proc/self/maps holding an address, exactly as the kernel writes it, or null.</summary>
    public static string? MapsLine(nint address)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-'), space = line.IndexOf(' ');
            if (dash < 0 || space < dash) continue;
            ulong start = Convert.ToUInt64(line[..dash], 16), end = Convert.ToUInt64(line[(dash + 1)..space], 16);
            if ((ulong)address >= start && (ulong)address < end)
                return line;
        }
        return null;
    }

    /// <summary>The transparent huge page mode (the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled),
    /// or "unavailable".</summary>
    public static string TransparentHugePages()
    {
        const string path = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!File.Exists(path)) return "unavailable";
        string text = File.ReadAllText(path).Trim();
        int open = text.IndexOf('['), close = text.IndexOf(']');
        return open >= 0 && close > open ? text[(open + 1)..close] : text;
    }

    /// <summary>
    /// Maps <paramref name="length"/> bytes, then writes one byte in each of the next <c>n</c> untouched pages for
    /// every n in <paramref name="pageCounts"/>, counting this thread's minor faults (getrusage RUSAGE_THREAD) for
    /// each step. The region first gets <paramref name="hugePageAdvice"/> from madvise: MADV_NOHUGEPAGE (the default)
    /// makes every 4 KiB page its own fault; MADV_HUGEPAGE lets the kernel back it with 2 MiB pages (when transparent
    /// huge pages are not "never"); null leaves the system's default. Everything runs on the calling thread; the mapping is gone when this returns.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static LazyAllocation MapAndTouch(long length = GiB, IReadOnlyList<long>? pageCounts = null, Advice? hugePageAdvice = Advice.MADV_NOHUGEPAGE)
    {
        pageCounts ??= [1, 10, 100, 1000, 10000];
        long page = PageSize;
        if (pageCounts.Any(n => n < 0) || pageCounts.Sum() * page > length)
            throw new ArgumentOutOfRangeException(nameof(pageCounts), $"the page counts must be ≥ 0 and fit in {length} bytes");
        long rssBefore = ProcStatus.ResidentKiB();
        long f0 = ThreadFaults();
        using var m = Mman.MapAnonymous(length);
        long faultsInMmap = ThreadFaults() - f0;
        if (hugePageAdvice is { } advice)
            Mman.Advise(m.Address, length, advice);
        long rssAfterMap = ProcStatus.ResidentKiB();
        string? line = MapsLine(m.Address);
        var steps = new List<TouchStep>();
        long next = 0;
        foreach (long n in pageCounts)
        {
            long before = ThreadFaults();
            Touch(m.Address + (nint)(next * page), n, page);
            long faults = ThreadFaults() - before;
            next += n;
            steps.Add(new TouchStep(n, next, faults, ProcStatus.ResidentKiB()));
        }
        return new LazyAllocation(length, hugePageAdvice, rssBefore, rssAfterMap, faultsInMmap, line, steps);
    }

    /// <summary>
    /// The same mapping twice, plain and with MAP_POPULATE: this thread's minor faults during mmap and during
    /// writing every page, and how resident memory grew. Huge pages stay as the system configures them.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IReadOnlyList<FaultTiming> ComparePopulate(long length = 64L << 20) =>
        [Timing("lazy (plain mmap)", length, 0), Timing("MAP_POPULATE", length, MapFlags.MAP_POPULATE)];

    static FaultTiming Timing(string how, long length, MapFlags extra)
    {
        long page = PageSize, pages = (length + page - 1) / page;
        long rss0 = ProcStatus.ResidentKiB();
        long f0 = ThreadFaults();
        using var m = Mman.Map(length, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS | extra);
        long f1 = ThreadFaults();
        long rss1 = ProcStatus.ResidentKiB();
        long f2 = ThreadFaults();
        Touch(m.Address, pages, page);
        long f3 = ThreadFaults();
        long rss2 = ProcStatus.ResidentKiB();
        return new FaultTiming(how, pages, f1 - f0, f3 - f2, rss1 - rss0, rss2 - rss0);
    }

    /// <summary>Minor faults of the calling thread so far.</summary>
    public static long ThreadFaults() => ResourceUsage.Get(RUsageWho.RUSAGE_THREAD).MinorFaults;

    /// <summary>
    /// Writes one byte at the start of each of <paramref name="pages"/> pages from <paramref name="address"/>.
    /// Compiled once, optimized: a long loop in tier-0 code is recompiled mid-run (OSR) on this thread, and the JIT's own
    /// page faults would be counted as the mapping's.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Touch(nint address, long pages, long pageSize)
    {
        byte* p = (byte*)address;
        for (long i = 0; i < pages; i++)
            p[i * pageSize] = 1;
    }
}

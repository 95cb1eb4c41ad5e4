using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lessons.Plotting;
using Lessons.Posix;
using Plotly.NET;
using Chart = Plotly.NET.CSharp.Chart;

namespace Lessons.L01_AddressSpace;

/// <summary>Totals for one kind of region.</summary>
public sealed record KindTotal(RegionKind Kind, int Regions, ulong Bytes)
{
    public override string ToString() => $"{Kind,-14} {Regions,7} {Bytes / 1024.0,16:N0}";

    /// <summary>The column titles that line up with <see cref="ToString"/>.</summary>
    public const string Header = "kind           regions              KiB";
}

/// <summary>Something the lesson looks for in the address space, and the region it was found in.</summary>
/// <remarks>
/// <c>SizeField</c>, for a malloc'd block: the 8 bytes glibc keeps right before the pointer (at p - 8), read while the
/// block was live: the chunk size with flags in its low 3 bits (IS_MMAPPED = 0x2, PREV_INUSE = 0x1).
/// </remarks>
public sealed record Landmark(string What, ulong Address, RegionKind? Kind, string? Permissions, string? Path, ulong? SizeField = null)
{
    /// <summary>glibc's IS_MMAPPED bit (0x2): malloc mapped this chunk on its own. Null when this is not a malloc'd block.</summary>
    public bool? GlibcMapped => SizeField is ulong f ? (f & MallocFlags.IsMmapped) != 0 : null;

    public override string ToString() =>
        $"{What,-44} 0x{Address:x12}  {(Kind?.ToString() ?? "(unmapped)"),-13} {Permissions} {Path}";
}

/// <summary>The flag bits in the low 3 bits of a glibc chunk's size field (x86-64).</summary>
public static class MallocFlags
{
    /// <summary>PREV_INUSE: the chunk just before this one in memory is in use.</summary>
    public const ulong PrevInUse = 0x1;
    /// <summary>IS_MMAPPED: this chunk was mapped on its own with mmap.</summary>
    public const ulong IsMmapped = 0x2;
    /// <summary>NON_MAIN_ARENA: the chunk belongs to a thread's arena, not the main one.</summary>
    public const ulong NonMainArena = 0x4;

    /// <summary>One line: the size field in hex, the chunk size, and the IS_MMAPPED and PREV_INUSE bits.</summary>
    public static string Describe(string what, ulong pointer, ulong sizeField) =>
        $"{what,-15} p = 0x{pointer:x12}  size field at p - 8 = 0x{sizeField:x8}: chunk size 0x{sizeField & ~7UL:x}, " +
        $"IS_MMAPPED (0x2) = {(sizeField & IsMmapped) >> 1}, PREV_INUSE (0x1) = {sizeField & PrevInUse}, NON_MAIN_ARENA (0x4) = {(sizeField & NonMainArena) >> 2}";
}

/// <summary>Lesson 01: the regions of this very process, and where typical things live in them.</summary>
public static class AddressSpace
{
    static int staticCounter = 42;

    /// <summary>64 MiB: above glibc's largest mmap threshold (32 MiB), so malloc always maps it on its own.</summary>
    public const long LargeBlock = 64L << 20;

    /// <summary>The page size (sysconf(_SC_PAGESIZE)).</summary>
    public static long PageSize => SysConf.PageSize;

    /// <summary>
    /// Every region of this process, from /proc/self/maps, classified; shared anonymous memory (see
    /// <see cref="IsSharedAnonymous"/>) counts as <see cref="RegionKind.SharedMemory"/>, not as a file.
    /// </summary>
    public static IReadOnlyList<MapsRegion> Regions() => ProcMaps.Read();

    /// <summary>
    /// The path the kernel prints for MAP_SHARED|MAP_ANONYMOUS memory: no file of yours is behind it, but the kernel backs
    /// it with a shmem object (as it does System V segments) whose internal name is "dev/zero", unlinked from the start.
    /// </summary>
    public const string SharedAnonymousPath = "/dev/zero (deleted)";

    /// <summary>True for a MAP_SHARED|MAP_ANONYMOUS region: shared ('s') and named <see cref="SharedAnonymousPath"/>.</summary>
    public static bool IsSharedAnonymous(MapsRegion region) =>
        region is { Shared: true, Path: SharedAnonymousPath };

    /// <summary>Maps one page MAP_SHARED|MAP_ANONYMOUS and returns the maps line the kernel writes for it, with its kind.</summary>
    public static (string Line, MapsRegion Region) SharedAnonymousPage()
    {
        using var page = Mman.MapAnonymous(PageSize, shared: true);
        var lines = File.ReadAllLines("/proc/self/maps");
        var regions = ProcMaps.Classify(lines, ProcMaps.ExecutablePath());
        int i = regions.Select((r, k) => (r, k)).First(x => x.r.Contains(page.Address)).k;
        return (lines[i], regions[i]);
    }

    /// <summary>The huge page sizes this kernel offers, in KiB (the folders of /sys/kernel/mm/hugepages).</summary>
    public static IReadOnlyList<long> HugePageSizesKiB()
    {
        const string folder = "/sys/kernel/mm/hugepages";
        if (!Directory.Exists(folder)) return [];
        return Directory.GetDirectories(folder).Select(Path.GetFileName)
            .Select(n => long.Parse(n!["hugepages-".Length..^"kB".Length], System.Globalization.CultureInfo.InvariantCulture))
            .Order().ToList();
    }

    /// <summary>The summary as lines of a table, with a header and a total.</summary>
    public static string SummaryTable(IReadOnlyList<KindTotal> totals)
    {
        var lines = new List<string> { KindTotal.Header };
        lines.AddRange(totals.Select(t => t.ToString()));
        lines.Add($"{"total",-14} {totals.Sum(t => t.Regions),7} {totals.Aggregate(0UL, (s, t) => s + t.Bytes) / 1024.0,16:N0}");
        return string.Join('\n', lines);
    }

    /// <summary>True when this process was started with .NET's W^X mode off (DOTNET_EnableWriteXorExecute=0).</summary>
    public static bool WriteXorExecuteOff => Environment.GetEnvironmentVariable("DOTNET_EnableWriteXorExecute") == "0";

    /// <summary>True when a region of the runtime's W^X double mapping (/memfd:doublemapper) exists in this process.</summary>
    public static bool HasDoubleMapping(IReadOnlyList<MapsRegion> regions) =>
        regions.Any(r => r.Path?.StartsWith("/memfd:doublemapper", StringComparison.Ordinal) == true);

    /// <summary>How many regions of each kind there are and how much address space they cover.</summary>
    public static IReadOnlyList<KindTotal> Summary(IReadOnlyList<MapsRegion>? regions = null) =>
        (regions ?? Regions()).GroupBy(r => r.Kind)
            .Select(g => new KindTotal(g.Key, g.Count(), (ulong)g.Sum(r => (decimal)r.Size)))
            .OrderBy(t => t.Kind).ToList();

    /// <summary>
    /// Where a stack variable, a static field, small and large malloc blocks, an mmap'd page, a managed object,
    /// libc's code and JIT-compiled code live. The blocks are freed before returning.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static unsafe IReadOnlyList<Landmark> Landmarks()
    {
        int local = 7;
        nint small = LibcHeap.Malloc(64);
        nint large = LibcHeap.Malloc(LargeBlock);
        using var page = Mman.MapAnonymous(PageSize);
        var managed = new byte[16];
        try
        {
            var regions = Regions(); // read after everything exists
            nint managedAddress;
            fixed (byte* p = managed) managedAddress = (nint)p;
            nint libcMalloc = Symbols.LibcFunction("malloc");
            delegate*<IReadOnlyList<Landmark>> jitted = &Landmarks;
            var exeText = regions.FirstOrDefault(r => r.Kind == RegionKind.Text);

            var found = new List<Landmark>
            {
                At("a local variable (this thread's stack)", (nint)(&local), regions),
                At("a static field", (nint)Unsafe.AsPointer(ref staticCounter), regions),
                At("malloc(64)", small, regions) with { SizeField = SizeFieldOf(small) },
                At("malloc(64 MiB)", large, regions) with { SizeField = SizeFieldOf(large) },
                At("mmap of one page", page.Address, regions),
                At("a managed object (new byte[16])", managedAddress, regions),
                At("libc's malloc function (machine code)", libcMalloc, regions),
                At("this C# method's entry point (JIT-made code)", (nint)jitted, regions),
            };
            if (exeText is not null)
                found.Add(At($"the program's own code ({Path.GetFileName(exeText.Path)})", (nint)exeText.Start, regions));
            GC.KeepAlive(managed);
            return found;
        }
        finally
        {
            LibcHeap.Free(small);
            LibcHeap.Free(large);
        }
    }

    /// <summary>
    /// True when malloc mapped this block on its own instead of carving it from an arena: glibc's chunk header says so
    /// (the IS_MMAPPED bit, read while the block was live) and the block lies in an anonymous region. (Comparing the
    /// region's size with the block's is not reliable: the kernel merges neighbouring mappings into one region.)
    /// </summary>
    public static bool IsOwnMapping(Landmark block) => block.GlibcMapped == true && block.Kind == RegionKind.Anonymous;

    /// <summary>glibc's size field of a live malloc'd block: the 8 bytes at p - 8 (x86-64 and arm64).</summary>
    static unsafe ulong SizeFieldOf(nint block) => ((ulong*)block)[-1];

    /// <summary>The address of the vsyscall page's gettimeofday entry (fixed on x86-64).</summary>
    public const ulong VsyscallGettimeofday = 0xffffffffff600000;

    /// <summary>
    /// Calls gettimeofday at its vsyscall address in a forked child (through a function pointer, as very old programs
    /// did) and returns how the child ended and the seconds it got (0 when the call did nothing). The page holds no code
    /// you can run: the call faults, and the kernel performs gettimeofday for the faulting instruction (vsyscall emulation).
    /// </summary>
    public static (ChildOutcome Outcome, long Seconds) CallVsyscallInChild()
    {
        using var shared = Mman.MapAnonymous(PageSize, shared: true);
        Marshal.WriteInt64(shared.Address, unchecked((long)VsyscallGettimeofday));
        var outcome = Fork.Run(CallGettimeofday, shared.Address);
        return (outcome, Marshal.ReadInt64(shared.Address, 8));
    }

    /// <summary>arg: [0] the function's address (0 in the warm-up: do nothing), [8] a struct timeval the call fills.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int CallGettimeofday(nint arg)
    {
        nint function = *(nint*)arg;
        if (function == 0) return 0;
        return ((delegate* unmanaged[SuppressGCTransition]<nint, nint, int>)function)(arg + 8, 0);
    }

    /// <summary>Resident memory (VmRSS in /proc/self/status): the pages that really sit in RAM, in KiB.</summary>
    public static long ResidentKiB() => ProcStatus.ResidentKiB();

    /// <summary>Reads an int at <paramref name="address"/> in a forked child; an unmapped address kills it with SIGSEGV.</summary>
    public static ChildOutcome TouchInChild(nint address) => Fork.Run(ReadInt, address);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int ReadInt(nint address) => *(int*)address == 0 ? 0 : 1;

    static Landmark At(string what, nint address, IReadOnlyList<MapsRegion> regions)
    {
        var r = regions.FirstOrDefault(x => x.Contains(address));
        return new Landmark(what, (ulong)address, r?.Kind, r?.Permissions, r?.Path);
    }

    /// <summary>
    /// The layout as a chart: each region is a point at its start address (TiB from 0) on its kind's row;
    /// hover shows the exact range, permissions and path.
    /// </summary>
    public static GenericChart LayoutFigure(IReadOnlyList<MapsRegion>? regions = null)
    {
        regions ??= Regions();
        var groups = regions.Where(r => r.Kind != RegionKind.Vsyscall).GroupBy(r => r.Kind).OrderBy(g => g.Key);
        return Chart.Combine(groups.Select(group => Chart.Point<double, string, string>(
                x: group.Select(r => r.Start / (double)(1UL << 40)), y: group.Select(r => r.Kind.ToString()),
                Name: group.Key.ToString(),
                MultiText: group.Select(r => $"0x{r.Start:x}-0x{r.End:x} {r.Permissions} {r.Size / 1024} KiB {r.Path}").ToList())))
            .Titled("Where the regions of this process lie").XAxis("start address (TiB)").YAxis("kind");
    }

    /// <summary>How much address space each kind of region covers, on a log scale.</summary>
    public static GenericChart SizeFigure(IReadOnlyList<KindTotal>? totals = null)
    {
        totals ??= Summary();
        return Chart.Column<double, string, string>(values: totals.Select(t => t.Bytes / 1024.0),
                Keys: totals.Select(t => t.Kind.ToString()).ToList(), Name: "KiB",
                MultiText: totals.Select(t => $"{t.Regions} regions").ToList())
            .Titled("Address space by kind of region").XAxis("kind").YAxis("KiB (log scale)", log: true);
    }
}

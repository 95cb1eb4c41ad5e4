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
    public override string ToString() => $"{Kind,-14} {Regions,5} regions {Bytes / 1024.0,14:N0} KiB";
}

/// <summary>Something the lesson looks for in the address space, and the region it was found in.</summary>
/// <remarks><c>GlibcMapped</c>, for a malloc'd block: whether glibc's chunk header marks it as mapped on its own (IS_MMAPPED).</remarks>
public sealed record Landmark(string What, ulong Address, RegionKind? Kind, string? Permissions, string? Path, bool? GlibcMapped = null)
{
    public override string ToString() =>
        $"{What,-44} 0x{Address:x12}  {(Kind?.ToString() ?? "(unmapped)"),-13} {Permissions} {Path}";
}

/// <summary>Lesson 01: the regions of this very process, and where typical things live in them.</summary>
public static class AddressSpace
{
    static int staticCounter = 42;

    /// <summary>64 MiB: above glibc's largest mmap threshold (32 MiB), so malloc always maps it on its own.</summary>
    public const long LargeBlock = 64L << 20;

    /// <summary>The page size (sysconf(_SC_PAGESIZE)).</summary>
    public static long PageSize => SysConf.PageSize;

    /// <summary>Every region of this process, from /proc/self/maps, classified.</summary>
    public static IReadOnlyList<MapsRegion> Regions() => ProcMaps.Read();

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
                At("malloc(64)", small, regions) with { GlibcMapped = MallocChunks.IsMappedByGlibc(small) },
                At("malloc(64 MiB)", large, regions) with { GlibcMapped = MallocChunks.IsMappedByGlibc(large) },
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

using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lessons.Plotting;
using Lessons.Posix;
using Plotly.NET;
using Chart = Plotly.NET.CSharp.Chart;

namespace Lessons.L04_AnonymousMappings;

/// <summary>What one allocate + touch + free cycle cost for one size, through malloc/free and through mmap/munmap.</summary>
public sealed record AllocCost(long Size, double MallocNs, double MmapNs, long MallocOps, long MmapOps)
{
    /// <summary>How many times slower mmap was than malloc for this size.</summary>
    public double Ratio => MmapNs / MallocNs;

    public override string ToString() =>
        $"{CostBenchmark.Bytes(Size),9} {MallocNs,14:N0} {MmapNs,14:N0} {Ratio,12:0.0} {MallocOps,10} {MmapOps,8}";
}

/// <summary>
/// Measures the cost of getting memory: allocate a block, write one byte in each of its pages, free it, through
/// malloc/free and through mmap/munmap. Raw libc calls on both sides (the checked LibcHeap wrapper keeps a
/// dictionary of live blocks, which would add its own cost to malloc's). Nanoseconds per cycle, wall clock, in the fastest batch of cycles.
/// </summary>
public static class CostBenchmark
{
    /// <summary>The column titles matching <see cref="AllocCost"/>'s ToString.</summary>
    public static string Header => $"{"size",9} {"malloc ns/op",14} {"mmap ns/op",14} {"mmap/malloc",12} {"malloc ops",10} {"mmap ops",8}";

    /// <summary>The fewest timed batches per size and way: one slow batch of a single 64 MiB cycle on a busy machine
    /// would otherwise be the whole measurement.</summary>
    public const int MinBatches = 3;

    /// <summary>16 B, 64 B, … 64 MiB: powers of 4.</summary>
    public static IReadOnlyList<long> DefaultSizes { get; } = Enumerable.Range(0, 12).Select(k => 16L << (2 * k)).ToList();

    /// <summary>
    /// Runs the measurement within about <paramref name="budget"/> (split evenly over the sizes and the two ways;
    /// every size gets at least one untimed warm-up and one timed cycle each way, so a tiny budget still gives a
    /// full, if noisy, table).
    /// </summary>
    public static IReadOnlyList<AllocCost> Run(TimeSpan budget, IReadOnlyList<long>? sizes = null)
    {
        sizes ??= DefaultSizes;
        if (sizes.Count == 0 || sizes.Any(s => s <= 0))
            throw new ArgumentOutOfRangeException(nameof(sizes), "sizes must be positive");
        if (budget < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(budget), "the budget must not be negative");
        Checked.RequireLinux("malloc");
        long slice = (long)(budget.Ticks / (2.0 * sizes.Count) * Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        long page = SysConf.PageSize;
        var results = new List<AllocCost>();
        foreach (long size in sizes)
        {
            var (mallocNs, mallocOps) = Measure(MallocCycle, size, page, slice);
            var (mmapNs, mmapOps) = Measure(MmapCycle, size, page, slice);
            results.Add(new AllocCost(size, mallocNs, mmapNs, mallocOps, mmapOps));
        }
        return results;
    }

    /// <summary>Runs cycles in batches of 1, 2, 4 … until the slice is used up, and at least <see cref="MinBatches"/>
    /// batches; returns ns per cycle in the fastest batch (the machine is shared: a batch that other processes slowed
    /// down does not count) and the cycles run.</summary>
    static (double Ns, long Ops) Measure(Action<long, long> cycle, long size, long page, long slice)
    {
        cycle(size, page); // warm-up: JIT, first touch of the arena
        long ops = 0, batch = 1, batches = 0;
        double best = double.MaxValue;
        var sw = Stopwatch.StartNew();
        while (true)
        {
            long start = sw.ElapsedTicks;
            for (long i = 0; i < batch; i++)
                cycle(size, page);
            ops += batch;
            long elapsed = sw.ElapsedTicks;
            best = Math.Min(best, (elapsed - start) * 1e9 / Stopwatch.Frequency / batch);
            batches++;
            if (elapsed >= slice && batches >= MinBatches) break;
            // Next batch: double, but no more than what the rest of the slice holds at the speed so far.
            long fits = (long)((slice - elapsed) / ((double)elapsed / ops));
            batch = Math.Clamp(Math.Min(batch * 2, fits), 1, 1 << 16);
        }
        return (best, ops);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MallocCycle(long size, long page)
    {
        nint p = Unchecked.Malloc((nuint)size);
        if (p == 0) throw PosixException.FromLastError($"malloc(size={size})");
        TouchAll(p, size, page);
        Unchecked.Free(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MmapCycle(long size, long page)
    {
        nint p = Unchecked.MapAnonymous((nuint)size);
        if (p == Unchecked.MAP_FAILED) throw PosixException.FromLastError($"mmap(length={size})");
        TouchAll(p, size, page);
        if (Unchecked.Unmap(p, (nuint)size) != 0) throw PosixException.FromLastError($"munmap(length={size})");
    }

    /// <summary>Writes one byte in every page the block covers, and its last byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void TouchAll(nint p, long size, long page)
    {
        byte* b = (byte*)p;
        for (long off = 0; off < size; off += page)
            b[off] = 1;
        b[size - 1] = 1;
    }

    /// <summary>Both costs against size on log-log axes.</summary>
    public static GenericChart Figure(IReadOnlyList<AllocCost> costs)
    {
        var x = costs.Select(c => (double)c.Size).ToList();
        return Chart.Combine([
                Chart.Line<double, double, string>(x: x, y: costs.Select(c => c.MallocNs), ShowMarkers: true, Name: "malloc/free",
                    MultiText: costs.Select(c => Bytes(c.Size)).ToList()),
                Chart.Line<double, double, string>(x: x, y: costs.Select(c => c.MmapNs), ShowMarkers: true, Name: "mmap/munmap",
                    MultiText: costs.Select(c => $"{Bytes(c.Size)}: mmap/malloc = {c.Ratio:0.0}").ToList()),
            ])
            .Titled("Allocate + touch + free: malloc vs mmap")
            .XAxis("block size (bytes)", log: true).YAxis("ns per allocate + touch + free", log: true);
    }

    /// <summary>A size as 16 B, 4 KiB, 64 MiB.</summary>
    public static string Bytes(long size) => size switch
    {
        >= 1L << 30 when size % (1L << 30) == 0 => $"{size >> 30} GiB",
        >= 1L << 20 when size % (1L << 20) == 0 => $"{size >> 20} MiB",
        >= 1L << 10 when size % (1L << 10) == 0 => $"{size >> 10} KiB",
        _ => $"{size} B",
    };
}

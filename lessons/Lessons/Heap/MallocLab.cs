using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// The malloc-lab driver (CS:APP's mdriver, in C#). For each trace and allocator:
/// <list type="number">
/// <item>a <b>checking pass</b> on a fresh allocator over a fresh <see cref="SimulatedBreak"/>: every block returned
/// for a size &gt; 0 must be non-null, aligned to <see cref="MallocLabOptions.Alignment"/>, inside [HeapLo, Break) and
/// overlap no live block; every payload is filled with a per-id byte pattern when allocated, and the pattern is
/// verified by realloc (the first min(old, new) bytes must have moved with the block) and before free (nobody may
/// write into a live payload). The first failure makes the trace invalid (score 0), naming the op index, the trace's
/// line and what went wrong. An exception thrown by the allocator is such a failure too;</item>
/// <item><b>utilization</b>, from the same pass: the most payload bytes live at once ÷ the memory used, which is the
/// heap's size plus the state the allocator keeps outside it (<see cref="SideState"/>, the same rule for every allocator,
/// see <see cref="IAllocator"/>). mdriver divides by the heap size at the end, which is its high-water mark because its
/// sbrk cannot shrink; a SimulatedBreak can shrink, so the driver uses the high-water mark, the same quantity;</item>
/// <item><b>throughput</b>: timed replays without any checks, each on a fresh allocator over the reset heap, repeated
/// until <see cref="MallocLabOptions.MinSeconds"/> is spent; the fastest replay counts (mdriver's fcyc keeps the
/// best of K). libc malloc/realloc/free replay the same trace the same way;</item>
/// <item><b>score</b> = 100 × (0.6 × util + 0.4 × min(1, ops/s ÷ libc ops/s)). mdriver compares against a fixed
/// libc figure over all traces; here libc is measured per trace, on this machine, right next to the allocator.</item>
/// </list>
/// Size 0: <c>a id 0</c> calls Malloc(0) and accepts whatever comes back (the lab's mm_malloc returns NULL, glibc a
/// unique pointer); the id then holds that pointer, and <c>f id</c> frees it. <c>r id 0</c> calls Realloc(p, 0).
/// CMU traces (<see cref="TraceFormat.Cmu"/>) make the Autolab mdriver's calls: Free(0) for <c>f -1</c> and for an
/// id never allocated, Realloc(0, n) for <c>r id n</c> of one; a block leaked by <c>a</c> of a live id stays live
/// and checked to the end. A trace whose peak payload passes <see cref="MallocLabOptions.MaxArenaBytes"/> is invalid
/// ("out of memory") and not replayed at all.
/// </summary>
public static partial class MallocLab
{
    /// <summary>The name libc\'s own malloc goes by in reports and in <c>malloc-lab --allocator</c>.</summary>
    public const string LibcName = "libc";

    /// <summary>Runs every trace against a fresh allocator from <paramref name="create"/> and against libc.</summary>
    public static MallocLabReport Run(IEnumerable<Trace> traces, Func<SimulatedBreak, IAllocator> create, MallocLabOptions? options = null) =>
        Run(traces, create, options, libc: null);

    /// <summary>
    /// The same, with libc's throughput on each trace already measured (<paramref name="libc"/>, from
    /// <see cref="RunLibc"/> on the same traces and options; null: measure it here), so that a comparison of several
    /// allocators times libc once instead of once per allocator.
    /// </summary>
    internal static MallocLabReport Run(IEnumerable<Trace> traces, Func<SimulatedBreak, IAllocator> create, MallocLabOptions? options, MallocLabReport? libc)
    {
        ArgumentNullException.ThrowIfNull(traces);
        ArgumentNullException.ThrowIfNull(create);
        options ??= new MallocLabOptions();
        var list = traces.ToList();
        if (libc is not null && libc.Results.Count != list.Count)
            throw new ArgumentException($"libc was measured on {libc.Results.Count} traces, not on these {list.Count}", nameof(libc));
        WarmUp(list, create, options);
        var results = list.Select((t, i) => Run(t, create, options, libc?.Results[i].OpsPerSecond)).ToList();
        return new MallocLabReport(AllocatorName(create), options, results);
    }

    /// <summary>Runs libc malloc alone (its utilization and score are not defined: glibc does not report its heap size here).</summary>
    public static MallocLabReport RunLibc(IEnumerable<Trace> traces, MallocLabOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(traces);
        options ??= new MallocLabOptions();
        var list = traces.ToList();
        WarmUp(list, null, options);
        var results = new List<TraceResult>();
        foreach (var trace in list)
        {
            if (options.OutOfMemory(trace) is { } oom)
            {
                results.Add(new TraceResult(trace.Name, trace.Ops.Count, false, null, 0, 0, null, oom, 0, trace.UtilizationBound(options.Alignment)));
                continue;
            }
            var check = Check(trace, new LibcAllocator(), null, options.Alignment);
            int replays = 0;
            double libc = check.Valid ? Throughput(trace, null, options, out replays) : 0;
            results.Add(new TraceResult(trace.Name, trace.Ops.Count, check.Valid, null, libc, libc, null, check.Error, replays, trace.UtilizationBound(options.Alignment)));
        }
        return new MallocLabReport(LibcName, options, results);
    }

    /// <summary>One trace: the checking pass, then (if valid) the timed replays of the allocator and of libc, and the score.</summary>
    public static TraceResult Run(Trace trace, Func<SimulatedBreak, IAllocator> create, MallocLabOptions? options = null) =>
        Run(trace, create, options, libcOpsPerSecond: null);

    // libcOpsPerSecond: libc's throughput on this trace, already measured (null: measure it now).
    static TraceResult Run(Trace trace, Func<SimulatedBreak, IAllocator> create, MallocLabOptions? options, double? libcOpsPerSecond)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(create);
        options ??= new MallocLabOptions();
        double bound = trace.UtilizationBound(options.Alignment);
        if (options.OutOfMemory(trace) is { } oom)
            return new TraceResult(trace.Name, trace.Ops.Count, false, null, 0, 0, 0, oom, 0, bound);
        SimulatedBreak heap;
        try
        {
            heap = new SimulatedBreak(options.ArenaBytes(trace));
        }
        catch (PosixException e)
        {
            return new TraceResult(trace.Name, trace.Ops.Count, false, null, 0, 0, 0, $"cannot reserve an arena of {options.ArenaBytes(trace):N0} bytes: {e.Message}", 0, bound);
        }
        using var arena = heap;
        CheckResult check;
        try
        {
            check = Check(trace, create(heap), heap, options.Alignment);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            check = new CheckResult(false, $"creating the allocator threw {e.GetType().Name}: {e.Message}", null, null, 0, null);
        }
        if (!check.Valid)
            return new TraceResult(trace.Name, trace.Ops.Count, false, null, 0, 0, 0, check.Error, 0, bound);

        double mine;
        int replays;
        try
        {
            mine = Throughput(trace, () => { heap.Reset(); return create(heap); }, options, out replays);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new TraceResult(trace.Name, trace.Ops.Count, false, null, 0, 0, 0,
                $"a timed replay (without checks) threw {e.GetType().Name}: {e.Message}", 0, bound);
        }
        double libc = libcOpsPerSecond ?? (Check(trace, new LibcAllocator(), null, options.Alignment).Valid ? Throughput(trace, null, options, out _) : 0);
        double util = check.Utilization ?? 0;
        return new TraceResult(trace.Name, trace.Ops.Count, true, util, mine, libc, Score(util, mine, libc, options), null, replays, bound, check.SideBytes);
    }

    /// <summary>
    /// The checking pass alone: replays <paramref name="trace"/> on <paramref name="allocator"/>, which manages
    /// <paramref name="heap"/> (null for an allocator without a simulated heap, like libc: no bounds check, no heap size).
    /// Blocks still live at the end stay allocated (for libc they are freed).
    /// </summary>
    public static CheckResult Check(Trace trace, IAllocator allocator, SimulatedBreak? heap, int alignment = 16)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(allocator);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alignment);
        var checker = new MallocLabChecker(trace, allocator, heap, alignment);
        try
        {
            return checker.Run();
        }
        finally
        {
            if (allocator is LibcAllocator) checker.FreeLiveBlocks();
        }
    }

    // 100 × (w × util + (1 − w) × min(1, ops/s ÷ libc ops/s)), in [0, 100].
    static double Score(double util, double mine, double libc, MallocLabOptions options)
    {
        double ratio = libc > 0 ? Math.Min(1, mine / libc) : 1;
        return Math.Clamp(100 * (options.UtilizationWeight * util + (1 - options.UtilizationWeight) * ratio), 0, 100);
    }

    // Replays every trace on the allocator (if any) and on libc, round after round, until WarmUpSeconds have passed.
    // A trace the allocator fails on is left out: the checking pass will report it.
    static void WarmUp(IReadOnlyList<Trace> traces, Func<SimulatedBreak, IAllocator>? create, MallocLabOptions options)
    {
        // A trace past the arena cap is left out too (its libc replay would use that much of the host's memory).
        var failed = traces.Select(t => options.OutOfMemory(t) is not null).ToArray();
        if (options.WarmUpSeconds <= 0 || failed.All(f => f)) return;
        using var heap = create is null ? null : new SimulatedBreak(traces.Where((_, i) => !failed[i]).Max(options.ArenaBytes));
        long end = Stopwatch.GetTimestamp() + (long)(options.WarmUpSeconds * Stopwatch.Frequency);
        do
        {
            for (int i = 0; i < traces.Count; i++)
            {
                if (failed[i]) continue;
                var blocks = new nint[traces[i].SlotCount];
                ReplayLibc(traces[i].ReplaySpan, blocks);
                foreach (nint p in blocks) if (p != 0) Unchecked.Free(p);
                if (create is null) continue;
                try
                {
                    heap!.Reset();
                    Replay(traces[i].ReplaySpan, new nint[traces[i].SlotCount], create(heap));
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failed[i] = true;
                }
            }
        } while (Stopwatch.GetTimestamp() < end);
    }

    /// <summary>Ops per second of the fastest of the timed replays (null <paramref name="create"/>: libc).</summary>
    static double Throughput(Trace trace, Func<IAllocator>? create, MallocLabOptions options, out int replays)
    {
        var ops = trace.ReplaySpan;
        var blocks = new nint[trace.SlotCount];
        long best = long.MaxValue, spent = 0, budget = (long)(options.MinSeconds * Stopwatch.Frequency);
        replays = 0;
        do
        {
            Array.Clear(blocks);
            var allocator = create?.Invoke();
            long start = Stopwatch.GetTimestamp();
            if (allocator is null) ReplayLibc(ops, blocks);
            else Replay(ops, blocks, allocator);
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (allocator is null)
                foreach (nint p in blocks) if (p != 0) Unchecked.Free(p);
            best = Math.Min(best, elapsed);
            spent += elapsed;
            replays++;
        } while (spent < budget && replays < options.MaxReplays);
        return ops.Length == 0 ? 0 : ops.Length / (Math.Max(best, 1) / (double)Stopwatch.Frequency);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void Replay(ReadOnlySpan<ReplayOp> ops, nint[] blocks, IAllocator allocator)
    {
        foreach (ref readonly var op in ops)
        {
            switch (op.Kind)
            {
                case TraceOpKind.Alloc: blocks[op.Slot] = allocator.Malloc(op.Size); break;
                case TraceOpKind.Realloc: blocks[op.Slot] = allocator.Realloc(blocks[op.Slot], op.Size); break;
                default: allocator.Free(blocks[op.Slot]); blocks[op.Slot] = 0; break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ReplayLibc(ReadOnlySpan<ReplayOp> ops, nint[] blocks)
    {
        foreach (ref readonly var op in ops)
        {
            switch (op.Kind)
            {
                case TraceOpKind.Alloc: blocks[op.Slot] = Unchecked.Malloc((nuint)op.Size); break;
                case TraceOpKind.Realloc:
                    nint p = Unchecked.Realloc(blocks[op.Slot], (nuint)op.Size);
                    if (p != 0 || op.Size == 0) blocks[op.Slot] = p;
                    break;
                default: Unchecked.Free(blocks[op.Slot]); blocks[op.Slot] = 0; break;
            }
        }
    }

    /// <summary>The allocator's <see cref="IAllocator.Name"/>, asked of an instance over a small throwaway heap.</summary>
    static string AllocatorName(Func<SimulatedBreak, IAllocator> create)
    {
        try
        {
            using var heap = new SimulatedBreak(1 << 20);
            return create(heap).Name;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"(allocator whose constructor threw {e.GetType().Name})";
        }
    }

    /// <summary>The most ops <see cref="LoadTraces(IEnumerable{string}, TraceFormat?)"/> loads in all (each trace at most <see cref="Trace.MaxOps"/>).</summary>
    public const int MaxTotalOps = 10_000_000;

    /// <summary>The .rep files named, each format told from the file: see <see cref="LoadTraces(IEnumerable{string}, TraceFormat?)"/>.</summary>
    public static IReadOnlyList<Trace> LoadTraces(params string[] paths) => LoadTraces(paths, null);

    /// <summary>
    /// The .rep files named: a directory means every *.rep in it (sorted by name); a file is loaded as it is.
    /// <paramref name="format"/>: the semantics of every file (null: tell each from the file). Files are read as
    /// streams, one at a time, and all together may hold at most <see cref="MaxTotalOps"/> ops.
    /// </summary>
    /// <exception cref="TraceFormatException">A file is not a valid trace, or the files hold too many ops in all.</exception>
    /// <exception cref="FileNotFoundException">A path is neither a file nor a directory.</exception>
    public static IReadOnlyList<Trace> LoadTraces(IEnumerable<string> paths, TraceFormat? format)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var traces = new List<Trace>();
        long total = 0;
        void Add(string file)
        {
            var trace = Trace.Load(file, format, (int)Math.Min(Trace.MaxOps, MaxTotalOps - total));
            total += trace.Ops.Count;
            traces.Add(trace);
        }
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                foreach (var file in Directory.EnumerateFiles(path, "*.rep").Order(StringComparer.Ordinal)) Add(file);
            else if (File.Exists(path))
                Add(path);
            else
                throw new FileNotFoundException($"no trace file or directory '{path}'", path);
        }
        return traces;
    }
}

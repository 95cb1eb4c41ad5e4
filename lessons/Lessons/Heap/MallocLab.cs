using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>How <see cref="MallocLab"/> measures. The defaults follow the CS:APP lab's mdriver where it has one.</summary>
public sealed record MallocLabOptions
{
    /// <summary>Timed replays of a trace go on until this much time has been spent (at least one replay); the fastest counts.</summary>
    public double MinSeconds { get; init; } = 0.2;

    /// <summary>The most timed replays of one trace, however short it is.</summary>
    public int MaxReplays { get; init; } = 10_000;

    /// <summary>The smallest simulated heap an allocator gets (the arena is max(this, 4 × heap size hint, 4 × peak payload)).</summary>
    public long MinArenaBytes { get; init; } = 64L << 20;

    /// <summary>The weight of utilization in the score (mdriver's UTIL_WEIGHT); throughput gets the rest.</summary>
    public double UtilizationWeight { get; init; } = 0.6;

    /// <summary>
    /// Untimed replays of all traces (allocator and libc in turn) before anything is timed, so that the JIT has
    /// compiled the hot code fully (.NET starts methods in quick, unoptimized code and recompiles them after some
    /// calls and a delay): without it, the first traces' figures depend on when that happens.
    /// </summary>
    public double WarmUpSeconds { get; init; } = 0.3;

    /// <summary>Every payload address must be a multiple of this.</summary>
    public int Alignment { get; init; } = 16;

    /// <summary>The arena size for a trace.</summary>
    public long ArenaBytes(Trace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        long hint = trace.HeapSizeHint > long.MaxValue / 4 ? long.MaxValue / 4 : trace.HeapSizeHint;
        return Math.Max(MinArenaBytes, Math.Max(4 * hint, 4 * trace.PeakPayload));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"min seconds per trace {MinSeconds}, max replays {MaxReplays}, warm-up {WarmUpSeconds} s, arena ≥ {MinArenaBytes:N0} bytes (or 4 × heap hint / peak payload), " +
        $"alignment {Alignment}, score = 100 × ({UtilizationWeight} × util + {1 - UtilizationWeight} × min(1, ops/s ÷ libc ops/s))");
}

/// <summary>
/// The correctness pass of one trace: whether every op behaved, the first error, and the space figures for utilization.
/// </summary>
/// <param name="Valid">No check failed.</param>
/// <param name="Error">The first failure: op index, trace line, op, and what went wrong.</param>
/// <param name="OpIndex">The 0-based index of the failing op (null when valid).</param>
/// <param name="Line">The failing op's line in the trace file (null when valid).</param>
/// <param name="PeakPayload">The most payload bytes live at once.</param>
/// <param name="HeapBytes">The largest size the simulated heap reached (null for libc, whose heap size is not reported).</param>
public sealed record CheckResult(bool Valid, string? Error, int? OpIndex, int? Line, long PeakPayload, long? HeapBytes)
{
    /// <summary>The lab's utilization: peak payload ÷ heap size (the heap's high-water mark); null for libc.</summary>
    public double? Utilization => HeapBytes is not { } heap ? null : heap == 0 ? (PeakPayload == 0 ? 1 : 0) : Math.Min(1, (double)PeakPayload / heap);

    public override string ToString() => Valid
        ? $"valid; peak payload {PeakPayload:N0} bytes" + (HeapBytes is { } h ? $", heap {h:N0} bytes, utilization {Utilization:P1}" : "")
        : $"INVALID: {Error}";
}

/// <summary>One trace's result, as mdriver prints it, plus the score.</summary>
/// <param name="Trace">The trace's name.</param>
/// <param name="Ops">Its number of ops.</param>
/// <param name="Valid">Every correctness check passed.</param>
/// <param name="Utilization">Peak payload ÷ heap size in [0, 1]; null for libc (and when invalid).</param>
/// <param name="OpsPerSecond">Throughput of the allocator (the fastest timed replay); 0 when invalid.</param>
/// <param name="LibcOpsPerSecond">Throughput of libc malloc on the same trace.</param>
/// <param name="Score">100 × (w × util + (1 − w) × min(1, ops/s ÷ libc ops/s)), 0 when invalid, null for libc itself.</param>
/// <param name="Error">The first correctness error, when invalid.</param>
/// <param name="Replays">How many timed replays were run.</param>
/// <param name="UtilizationBound">The best utilization any allocator can reach on the trace (<see cref="Heap.Trace.UtilizationBound"/>).</param>
public sealed record TraceResult(string Trace, int Ops, bool Valid, double? Utilization, double OpsPerSecond, double LibcOpsPerSecond,
    double? Score, string? Error, int Replays, double? UtilizationBound = null)
{
    internal static readonly string Header = $"{"trace",-26} {"ops",9}  {"valid",5} {"util",6} {"best",6} {"ops/s",12} {"libc ops/s",12} {"score",7}";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Shorten(Trace, 26),-26} {Ops,9:N0}  {(Valid ? "yes" : "no"),5} {Percent(Utilization),6} {Percent(UtilizationBound),6} {(Valid ? OpsPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "-"),12} {LibcOpsPerSecond,12:N0} {(Score is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "-"),7}");

    internal static string Percent(double? value) => value is { } v ? v.ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "") : "-";

    internal static string Shorten(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";
}

/// <summary>All traces' results for one allocator, with mdriver's totals (averages) and the parameters used.</summary>
public sealed record MallocLabReport(string Allocator, MallocLabOptions Options, IReadOnlyList<TraceResult> Results)
{
    /// <summary>True when every trace passed the correctness checks.</summary>
    public bool AllValid => Results.All(r => r.Valid);

    /// <summary>The average utilization over the traces (invalid ones count 0); null for libc.</summary>
    public double? AverageUtilization => Results.Count == 0 || Results.Any(r => r.Valid && r.Utilization is null) ? null : Results.Average(r => r.Utilization ?? 0);

    /// <summary>The average of the traces' utilization bounds: no allocator's average utilization can be higher.</summary>
    public double? AverageUtilizationBound => Results.Count == 0 || Results.Any(r => r.UtilizationBound is null) ? null : Results.Average(r => r.UtilizationBound!.Value);

    /// <summary>The average score over the traces (invalid ones count 0); null for libc.</summary>
    public double? AverageScore => Results.Count == 0 || Results.Any(r => r.Score is null) ? null : Results.Average(r => r.Score!.Value);

    /// <summary>Total ops of all traces ÷ total time of their fastest replays (mdriver's total Kops), valid traces only.</summary>
    public double OpsPerSecond => Throughput(Results.Where(r => r.Valid).Select(r => (r.Ops, r.OpsPerSecond)));

    /// <summary>The same total for libc.</summary>
    public double LibcOpsPerSecond => Throughput(Results.Select(r => (r.Ops, r.LibcOpsPerSecond)));

    static double Throughput(IEnumerable<(int Ops, double PerSecond)> rows)
    {
        double ops = 0, seconds = 0;
        foreach (var (n, perSecond) in rows)
        {
            if (perSecond <= 0) continue;
            ops += n;
            seconds += n / perSecond;
        }
        return seconds > 0 ? ops / seconds : 0;
    }

    public override string ToString()
    {
        var s = new StringBuilder();
        s.AppendLine($"allocator: {Allocator}");
        s.AppendLine($"parameters: {Options}");
        s.AppendLine(TraceResult.Header);
        foreach (var r in Results) s.AppendLine(r.ToString());
        s.Append(string.Create(CultureInfo.InvariantCulture,
            $"{"average / total",-26} {Results.Sum(r => (long)r.Ops),9:N0}  {$"{Results.Count(r => r.Valid)}/{Results.Count}",5} {TraceResult.Percent(AverageUtilization),6} {TraceResult.Percent(AverageUtilizationBound),6} {OpsPerSecond,12:N0} {LibcOpsPerSecond,12:N0} {(AverageScore is { } a ? a.ToString("F1", CultureInfo.InvariantCulture) : "-"),7}"));
        if (AverageScore is not null && AverageUtilizationBound is { } bound)
            s.Append(string.Create(CultureInfo.InvariantCulture,
                $"\nbest possible average score on these traces: {100 * (Options.UtilizationWeight * bound + (1 - Options.UtilizationWeight)):F1} (every trace at its bound, throughput at least libc's)"));
        foreach (var r in Results.Where(r => !r.Valid))
            s.Append($"\nERROR {r.Trace}: {r.Error}");
        return s.ToString();
    }
}

/// <summary>
/// The malloc-lab driver (CS:APP's mdriver, in C#). For each trace and allocator:
/// <list type="number">
/// <item>a <b>checking pass</b> on a fresh allocator over a fresh <see cref="SimulatedBreak"/>: every block returned
/// for a size &gt; 0 must be non-null, aligned to <see cref="MallocLabOptions.Alignment"/>, inside [HeapLo, Break) and
/// overlap no live block; every payload is filled with a per-id byte pattern when allocated, and the pattern is
/// verified by realloc (the first min(old, new) bytes must have moved with the block) and before free (nobody may
/// write into a live payload). The first failure makes the trace invalid (score 0), naming the op index, the trace's
/// line and what went wrong. An exception thrown by the allocator is such a failure too;</item>
/// <item><b>utilization</b>, from the same pass: the most payload bytes live at once ÷ the heap's size. mdriver divides by
/// the heap size at the end, which is its high-water mark because its sbrk cannot shrink; a SimulatedBreak can
/// shrink, so the driver uses the high-water mark, the same quantity;</item>
/// <item><b>throughput</b>: timed replays without any checks, each on a fresh allocator over the reset heap, repeated
/// until <see cref="MallocLabOptions.MinSeconds"/> is spent; the fastest replay counts (mdriver's fcyc keeps the
/// best of K). libc malloc/realloc/free replay the same trace the same way;</item>
/// <item><b>score</b> = 100 × (0.6 × util + 0.4 × min(1, ops/s ÷ libc ops/s)). mdriver compares against a fixed
/// libc figure over all traces; here libc is measured per trace, on this machine, right next to the allocator.</item>
/// </list>
/// Size 0: <c>a id 0</c> calls Malloc(0) and accepts whatever comes back (the lab's mm_malloc returns NULL, glibc a
/// unique pointer); the id then holds that pointer, and <c>f id</c> frees it. <c>r id 0</c> calls Realloc(p, 0).
/// </summary>
public static class MallocLab
{
    /// <summary>Runs every trace against a fresh allocator from <paramref name="create"/> and against libc.</summary>
    public static MallocLabReport Run(IEnumerable<Trace> traces, Func<SimulatedBreak, IAllocator> create, MallocLabOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(traces);
        ArgumentNullException.ThrowIfNull(create);
        options ??= new MallocLabOptions();
        var list = traces.ToList();
        WarmUp(list, create, options);
        var results = list.Select(t => Run(t, create, options)).ToList();
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
            var check = Check(trace, new LibcAllocator(), null, options.Alignment);
            int replays = 0;
            double libc = check.Valid ? Throughput(trace, null, options, out replays) : 0;
            results.Add(new TraceResult(trace.Name, trace.Ops.Count, check.Valid, null, libc, libc, null, check.Error, replays, trace.UtilizationBound(options.Alignment)));
        }
        return new MallocLabReport(LibcAllocator.LibcName, options, results);
    }

    /// <summary>One trace: the checking pass, then (if valid) the timed replays of the allocator and of libc, and the score.</summary>
    public static TraceResult Run(Trace trace, Func<SimulatedBreak, IAllocator> create, MallocLabOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(create);
        options ??= new MallocLabOptions();
        double bound = trace.UtilizationBound(options.Alignment);
        using var heap = new SimulatedBreak(options.ArenaBytes(trace));
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
        var libcCheck = Check(trace, new LibcAllocator(), null, options.Alignment);
        double libc = libcCheck.Valid ? Throughput(trace, null, options, out _) : 0;
        double util = check.Utilization ?? 0;
        double ratio = libc > 0 ? Math.Min(1, mine / libc) : 1;
        double score = 100 * (options.UtilizationWeight * util + (1 - options.UtilizationWeight) * ratio);
        return new TraceResult(trace.Name, trace.Ops.Count, true, util, mine, libc, Math.Clamp(score, 0, 100), null, replays, bound);
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
        var checker = new Checker(trace, allocator, heap, alignment);
        try
        {
            return checker.Run();
        }
        finally
        {
            if (allocator is LibcAllocator) checker.FreeLiveBlocks();
        }
    }

    // Replays every trace on the allocator (if any) and on libc, round after round, until WarmUpSeconds have passed.
    // A trace the allocator fails on is left out: the checking pass will report it.
    static void WarmUp(IReadOnlyList<Trace> traces, Func<SimulatedBreak, IAllocator>? create, MallocLabOptions options)
    {
        if (options.WarmUpSeconds <= 0 || traces.Count == 0) return;
        using var heap = create is null ? null : new SimulatedBreak(traces.Max(options.ArenaBytes));
        var failed = new bool[traces.Count];
        long end = Stopwatch.GetTimestamp() + (long)(options.WarmUpSeconds * Stopwatch.Frequency);
        do
        {
            for (int i = 0; i < traces.Count; i++)
            {
                var blocks = new nint[traces[i].IdCount];
                ReplayLibc(traces[i].OpSpan, blocks);
                foreach (nint p in blocks) if (p != 0) Unchecked.Free(p);
                if (create is null || failed[i]) continue;
                try
                {
                    heap!.Reset();
                    Replay(traces[i].OpSpan, new nint[traces[i].IdCount], create(heap));
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
        var ops = trace.OpSpan;
        var blocks = new nint[trace.IdCount];
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
    static void Replay(ReadOnlySpan<TraceOp> ops, nint[] blocks, IAllocator allocator)
    {
        foreach (ref readonly var op in ops)
        {
            switch (op.Kind)
            {
                case TraceOpKind.Alloc: blocks[op.Id] = allocator.Malloc(op.Size); break;
                case TraceOpKind.Realloc: blocks[op.Id] = allocator.Realloc(blocks[op.Id], op.Size); break;
                default: allocator.Free(blocks[op.Id]); blocks[op.Id] = 0; break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ReplayLibc(ReadOnlySpan<TraceOp> ops, nint[] blocks)
    {
        foreach (ref readonly var op in ops)
        {
            switch (op.Kind)
            {
                case TraceOpKind.Alloc: blocks[op.Id] = Unchecked.Malloc((nuint)op.Size); break;
                case TraceOpKind.Realloc:
                    nint p = Unchecked.Realloc(blocks[op.Id], (nuint)op.Size);
                    if (p != 0 || op.Size == 0) blocks[op.Id] = p;
                    break;
                default: Unchecked.Free(blocks[op.Id]); blocks[op.Id] = 0; break;
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

    /// <summary>The .rep files named: a directory means every *.rep in it (sorted by name); a file is loaded as it is.</summary>
    /// <exception cref="TraceFormatException">A file is not a valid trace.</exception>
    /// <exception cref="FileNotFoundException">A path is neither a file nor a directory.</exception>
    public static IReadOnlyList<Trace> LoadTraces(params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var traces = new List<Trace>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                traces.AddRange(Directory.EnumerateFiles(path, "*.rep").Order(StringComparer.Ordinal).Select(Trace.Load));
            else if (File.Exists(path))
                traces.Add(Trace.Load(path));
            else
                throw new FileNotFoundException($"no trace file or directory '{path}'", path);
        }
        return traces;
    }

    /// <summary>The checking pass's state: the live blocks by id and by address.</summary>
    sealed class Checker(Trace trace, IAllocator allocator, SimulatedBreak? heap, int alignment)
    {
        readonly nint[] pointers = new nint[trace.IdCount];
        readonly int[] sizes = new int[trace.IdCount];
        readonly int[] allocatedAt = new int[trace.IdCount];
        readonly List<nint> starts = [];               // sorted starts of live payloads (size > 0)
        readonly Dictionary<nint, int> idAt = [];      // start → id
        long live, peak, heapPeak;

        public CheckResult Run()
        {
            var ops = trace.Ops;
            for (int i = 0; i < ops.Count; i++)
            {
                var op = ops[i];
                string? error;
                try
                {
                    error = Step(op);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    error = $"{Call(op)} threw {e.GetType().Name}: {e.Message}";
                }
                if (heap is not null) heapPeak = Math.Max(heapPeak, heap.Size);
                if (error is not null)
                    return new CheckResult(false, $"op {i} (line {op.Line}, '{op}'): {error}", i, op.Line, peak, heap is null ? null : heapPeak);
            }
            for (int id = 0; id < pointers.Length && ops.Count > 0; id++)
                if (Intact(id, "after the last op") is { } damaged)
                    return new CheckResult(false, $"op {ops.Count - 1} (line {ops[^1].Line}, '{ops[^1]}'): {damaged}", ops.Count - 1, ops[^1].Line, peak, heap is null ? null : heapPeak);
            return new CheckResult(true, null, null, null, peak, heap is null ? null : heapPeak);
        }

        string Call(TraceOp op) => op.Kind switch
        {
            TraceOpKind.Alloc => $"malloc({op.Size})",
            TraceOpKind.Realloc => $"realloc({CFormat.Hex(pointers[op.Id])}, {op.Size})",
            _ => $"free({CFormat.Hex(pointers[op.Id])})",
        };

        string? Step(TraceOp op)
        {
            int id = op.Id;
            switch (op.Kind)
            {
                case TraceOpKind.Alloc:
                {
                    nint p = allocator.Malloc(op.Size);
                    if (Admit(op, p) is { } bad) return bad;
                    Pattern.Fill(p, op.Size, id);
                    Remember(id, p, op.Size, op.Line);
                    return null;
                }
                case TraceOpKind.Realloc:
                {
                    nint old = pointers[id];
                    int oldSize = sizes[id];
                    if (Intact(id, $"before {Call(op)}") is { } damaged) return damaged;
                    Forget(id);
                    nint p = allocator.Realloc(old, op.Size);
                    if (Admit(op, p) is { } bad) return bad;
                    int kept = Math.Min(oldSize, op.Size);
                    if (p != 0 && Pattern.FirstDifference(p, kept, id) is { } at)
                        return $"{Call(op)} returned {CFormat.Hex(p)} but lost the old contents: byte {at} of the {kept} that must be kept differs " +
                               $"(block {id} had {oldSize} bytes at {CFormat.Hex(old)})";
                    Pattern.Fill(p, op.Size, id);
                    Remember(id, p, op.Size, op.Line);
                    return null;
                }
                default:
                {
                    if (Intact(id, $"before {Call(op)}") is { } damaged) return damaged;
                    nint p = pointers[id];
                    Forget(id);
                    allocator.Free(p);
                    return null;
                }
            }
        }

        /// <summary>Checks a block just returned for op (size &gt; 0): non-null, aligned, inside the heap, no overlap.</summary>
        string? Admit(TraceOp op, nint p)
        {
            if (op.Size == 0) return null;
            if (p == 0)
                return $"{Call(op)} returned NULL" + (heap is null ? "" : $" (out of memory? the heap is {heap.Size:N0} of at most {heap.MaxSize:N0} bytes)");
            if (p % alignment != 0)
                return $"{Call(op)} returned {CFormat.Hex(p)}, which is not aligned to {alignment} bytes (it is {p % alignment} past a multiple)";
            nint end = p + op.Size;
            if (heap is not null && (p < heap.HeapLo || end > heap.Break || end < p))
                return $"{Call(op)} returned the payload [{CFormat.Hex(p)}, {CFormat.Hex(end)}), which lies outside the heap [{CFormat.Hex(heap.HeapLo)}, {CFormat.Hex(heap.Break)})";
            int index = starts.BinarySearch(p);
            if (index >= 0)
                return Overlap(op, p, end, starts[index]);
            index = ~index;
            if (index > 0 && starts[index - 1] + sizes[idAt[starts[index - 1]]] > p)
                return Overlap(op, p, end, starts[index - 1]);
            if (index < starts.Count && starts[index] < end)
                return Overlap(op, p, end, starts[index]);
            return null;
        }

        string Overlap(TraceOp op, nint p, nint end, nint other)
        {
            int id = idAt[other];
            return $"{Call(op)} returned the payload [{CFormat.Hex(p)}, {CFormat.Hex(end)}), which overlaps block {id}'s payload " +
                   $"[{CFormat.Hex(other)}, {CFormat.Hex(other + sizes[id])}) (allocated at line {allocatedAt[id]})";
        }

        string? Intact(int id, string when)
        {
            nint p = pointers[id];
            int size = sizes[id];
            if (p == 0 || size == 0) return null;
            return Pattern.FirstDifference(p, size, id) is { } at
                ? $"{when}: block {id}'s payload [{CFormat.Hex(p)}, {CFormat.Hex(p + size)}) (allocated at line {allocatedAt[id]}) was overwritten while it was live, first at byte {at}"
                : null;
        }

        void Remember(int id, nint p, int size, int line)
        {
            pointers[id] = p;
            sizes[id] = size;
            allocatedAt[id] = line;
            live += size;
            peak = Math.Max(peak, live);
            if (p == 0 || size == 0) return;
            int index = starts.BinarySearch(p);
            starts.Insert(index < 0 ? ~index : index, p);
            idAt[p] = id;
        }

        void Forget(int id)
        {
            nint p = pointers[id];
            live -= sizes[id];
            if (p != 0 && sizes[id] > 0 && idAt.Remove(p))
                starts.RemoveAt(starts.BinarySearch(p));
            pointers[id] = 0;
            sizes[id] = 0;
        }

        public void FreeLiveBlocks()
        {
            for (int id = 0; id < pointers.Length; id++)
            {
                if (pointers[id] != 0) Unchecked.Free(pointers[id]);
                pointers[id] = 0;
            }
        }
    }

    /// <summary>The per-id byte pattern payloads are filled with: 64 KiB of fixed pseudo-random bytes, each id starting elsewhere.</summary>
    static class Pattern
    {
        const int Length = 1 << 16;
        static readonly byte[] Bytes = Make();

        static byte[] Make()
        {
            var bytes = new byte[Length];
            ulong x = 0x9E3779B97F4A7C15;
            for (int i = 0; i < Length; i++)
            {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                bytes[i] = (byte)(x >> 24);
            }
            return bytes;
        }

        static int Start(int id) => (int)((uint)id * 40503u % Length);

        public static unsafe void Fill(nint p, int size, int id)
        {
            var target = new Span<byte>((void*)p, size);
            int from = Start(id);
            while (target.Length > 0)
            {
                int n = Math.Min(target.Length, Length - from);
                Bytes.AsSpan(from, n).CopyTo(target);
                target = target[n..];
                from = 0;
            }
        }

        public static unsafe int? FirstDifference(nint p, int size, int id)
        {
            var actual = new ReadOnlySpan<byte>((void*)p, size);
            int from = Start(id), offset = 0;
            while (actual.Length > 0)
            {
                int n = Math.Min(actual.Length, Length - from);
                int diff = actual[..n].CommonPrefixLength(Bytes.AsSpan(from, n));
                if (diff < n) return offset + diff;
                actual = actual[n..];
                offset += n;
                from = 0;
            }
            return null;
        }
    }
}

/// <summary>libc's malloc/calloc/realloc/free as an <see cref="IAllocator"/> (raw calls, no bookkeeping), for comparison.
/// It has no simulated heap, so the driver neither checks bounds nor computes a utilization for it.</summary>
internal sealed class LibcAllocator : IAllocator
{
    public const string LibcName = "libc";

    public string Name => LibcName;

    public nint Malloc(long size) => Unchecked.Malloc(Checked.Size("malloc", nameof(size), size));

    public nint Calloc(long count, long size) =>
        Unchecked.Calloc(Checked.Size("calloc", nameof(count), count), Checked.Size("calloc", nameof(size), size));

    public nint Realloc(nint pointer, long size) => Unchecked.Realloc(pointer, Checked.Size("realloc", nameof(size), size));

    public void Free(nint pointer) => Unchecked.Free(pointer);
}

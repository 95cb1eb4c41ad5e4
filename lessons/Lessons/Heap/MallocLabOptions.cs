using System.Globalization;

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

    /// <summary>
    /// The largest simulated heap (a cap on 4 × heap hint and 4 × peak payload). A trace whose peak payload is larger
    /// is invalid, "out of memory", and not replayed at all, not even on libc (its checking pass would fill that much of
    /// the host's memory).
    /// </summary>
    public long MaxArenaBytes { get; init; } = 1L << 30;

    /// <summary>The arena size for a trace: max(<see cref="MinArenaBytes"/>, 4 × heap hint, 4 × peak payload), at most <see cref="MaxArenaBytes"/>.</summary>
    public long ArenaBytes(Trace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        long hint = Math.Min(trace.HeapSizeHint, long.MaxValue / 4), peak = Math.Min(trace.PeakPayload, long.MaxValue / 4);
        return Math.Max(1, Math.Min(MaxArenaBytes, Math.Max(MinArenaBytes, Math.Max(4 * hint, 4 * peak))));
    }

    /// <summary>Why the trace cannot be replayed within <see cref="MaxArenaBytes"/> ("out of memory: ..."), or null.</summary>
    public string? OutOfMemory(Trace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return trace.PeakPayload > MaxArenaBytes
            ? string.Create(CultureInfo.InvariantCulture, $"out of memory: needs {trace.PeakPayload:N0} bytes (its peak payload), cap {MaxArenaBytes:N0} (the largest arena); not replayed")
            : null;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"min seconds per trace {MinSeconds}, max replays {MaxReplays}, warm-up {WarmUpSeconds} s, arena ≥ {MinArenaBytes:N0} bytes (or 4 × heap hint / peak payload) and ≤ {MaxArenaBytes:N0}, " +
        $"alignment {Alignment}, score = 100 × ({UtilizationWeight} × util + {1 - UtilizationWeight} × min(1, ops/s ÷ libc ops/s))");
}

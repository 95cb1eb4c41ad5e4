using System.Globalization;

namespace Lessons.Heap;

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
/// <param name="SideBytes">The most state the allocator kept outside its heap (<see cref="SideState"/>), counted in
/// utilization; null for libc and when invalid.</param>
public sealed record TraceResult(string Trace, int Ops, bool Valid, double? Utilization, double OpsPerSecond, double LibcOpsPerSecond,
    double? Score, string? Error, int Replays, double? UtilizationBound = null, long? SideBytes = null)
{
    internal static readonly string Header = $"{"trace",-26} {"ops",9}  {"valid",5} {"util",6} {"best",6} {"side B",9} {"ops/s",12} {"libc ops/s",12} {"score",7}";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Shorten(Trace, 26),-26} {Ops,9:N0}  {(Valid ? "yes" : "no"),5} {Percent(Utilization),6} {Percent(UtilizationBound),6} {(SideBytes is { } side ? side.ToString("N0", CultureInfo.InvariantCulture) : "-"),9} {(Valid ? OpsPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "-"),12} {LibcOpsPerSecond,12:N0} {(Score is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "-"),7}");

    internal static string Percent(double? value) => value is { } v ? v.ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "") : "-";

    internal static string Shorten(string text, int width) => text.Length <= width ? text : text[..(width - 1)] + "…";
}

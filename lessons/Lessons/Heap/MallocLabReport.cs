using System.Globalization;
using System.Text;

namespace Lessons.Heap;

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
            $"{"average / total",-26} {Results.Sum(r => (long)r.Ops),9:N0}  {$"{Results.Count(r => r.Valid)}/{Results.Count}",5} {TraceResult.Percent(AverageUtilization),6} {TraceResult.Percent(AverageUtilizationBound),6} {(Results.Any(r => r.SideBytes is not null) ? Results.Max(r => r.SideBytes ?? 0).ToString("N0", CultureInfo.InvariantCulture) : "-"),9} {OpsPerSecond,12:N0} {LibcOpsPerSecond,12:N0} {(AverageScore is { } a ? a.ToString("F1", CultureInfo.InvariantCulture) : "-"),7}"));
        if (AverageScore is not null && AverageUtilizationBound is { } bound)
            s.Append(string.Create(CultureInfo.InvariantCulture,
                $"\nbest possible average score on these traces: {100 * (Options.UtilizationWeight * bound + (1 - Options.UtilizationWeight)):F1} (every trace at its bound, throughput at least libc's)"));
        foreach (var r in Results.Where(r => !r.Valid))
            s.Append($"\nERROR {r.Trace}: {r.Error}");
        return s.ToString();
    }
}

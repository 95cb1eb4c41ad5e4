using System.Globalization;
using System.Text;
using Lessons.Heap;
using Lessons.Plotting;
using Chart = Plotly.NET.CSharp.Chart;
using GenericChart = Plotly.NET.GenericChart;

namespace Lessons.L05_BuildAnAllocator;

/// <summary>A scenario played on one allocator: a heap snapshot after each op (the first is the empty heap).</summary>
public sealed record ScenarioRun(string Allocator, IReadOnlyList<HeapSnapshot> Snapshots)
{
    /// <summary>The heap as strips, one per step (<see cref="HeapPicture.Strips"/>).</summary>
    public GenericChart Picture() => HeapPicture.Strips(Snapshots, $"{Allocator}: heap blocks after each step");

    public override string ToString() => $"{Allocator}:\n" + string.Join("\n", Snapshots);
}

/// <summary>Live payload and heap size after every op of a trace, for one allocator.</summary>
public sealed record UtilizationCurve(string Allocator, string Trace, IReadOnlyList<long> LivePayload, IReadOnlyList<long> HeapSize)
{
    /// <summary>The most payload live at once.</summary>
    public long PeakPayload => LivePayload.Count == 0 ? 0 : LivePayload.Max();

    /// <summary>The heap's largest size.</summary>
    public long PeakHeap => HeapSize.Count == 0 ? 0 : HeapSize.Max();

    /// <summary>The lab's utilization: peak payload ÷ largest heap.</summary>
    public double Utilization => PeakHeap == 0 ? 1 : (double)PeakPayload / PeakHeap;

    /// <summary>Two lines over the op index: live payload and heap size.</summary>
    public GenericChart Plot() => Chart.Combine([
            Chart.Line<int, long, string>(x: Enumerable.Range(1, HeapSize.Count), y: HeapSize, Name: "heap size (break − HeapLo)"),
            Chart.Line<int, long, string>(x: Enumerable.Range(1, LivePayload.Count), y: LivePayload, Name: "live payload"),
        ])
        .Titled($"{Allocator} on {Trace}: live payload vs heap size").XAxis("op").YAxis("bytes");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Allocator} on {Trace}: {LivePayload.Count:N0} ops, peak payload {PeakPayload:N0} bytes, largest heap {PeakHeap:N0} bytes, utilization {Utilization:P1}");
}

/// <summary>One allocator's malloc-lab results on a set of traces, side by side with others.</summary>
public sealed record AllocatorComparison(IReadOnlyList<MallocLabReport> Reports)
{
    /// <summary>Average utilization and score per allocator, as grouped bars.</summary>
    public GenericChart Chart()
    {
        var names = Reports.Select(r => r.Allocator).ToList();
        return Plotly.NET.CSharp.Chart.Combine([
                Plotly.NET.CSharp.Chart.Column<double, string, string>(values: Reports.Select(r => Math.Round(100 * (r.AverageUtilization ?? 0), 1)),
                    Keys: names, Name: "utilization (%)"),
                Plotly.NET.CSharp.Chart.Column<double, string, string>(values: Reports.Select(r => Math.Round(r.AverageScore ?? 0, 1)),
                    Keys: names, Name: "score (0–100)"),
            ])
            .Titled("average over the bundled traces").YAxis("percent / points");
    }

    /// <summary>A table: one row per trace, utilization of each allocator and the bound no allocator can pass
    /// (<see cref="Trace.UtilizationBound"/>), then the averages of utilization and score.</summary>
    public string Table()
    {
        var s = new StringBuilder();
        const int w = 9;  // the best column; each allocator's column is as wide as its name needs
        int W(MallocLabReport r) => Math.Max(w, r.Allocator.Length + 2);
        s.Append($"{"trace",-28}");
        foreach (var r in Reports) s.Append(r.Allocator.PadLeft(W(r)));
        s.Append("best".PadLeft(w));
        s.AppendLine();
        var traces = Reports.Count == 0 ? [] : Reports[0].Results.Select(t => t.Trace).ToList();
        for (int i = 0; i < traces.Count; i++)
        {
            s.Append($"{traces[i],-28}");
            foreach (var r in Reports) s.Append(Percent(r.Results[i].Valid ? r.Results[i].Utilization : null).PadLeft(W(r)));
            s.Append(Percent(Reports[0].Results[i].UtilizationBound).PadLeft(w));
            s.AppendLine();
        }
        s.Append($"{"average utilization",-28}");
        foreach (var r in Reports) s.Append(Percent(r.AverageUtilization).PadLeft(W(r)));
        s.Append(Percent(Reports.Count == 0 ? null : Reports[0].AverageUtilizationBound).PadLeft(w));
        s.AppendLine();
        s.Append($"{"average score",-28}");
        foreach (var r in Reports) s.Append((r.AverageScore is { } a ? a.ToString("F1", CultureInfo.InvariantCulture) : "-").PadLeft(W(r)));
        return s.ToString();
    }

    static string Percent(double? v) => v is { } x ? x.ToString("P1", CultureInfo.InvariantCulture) : (v is null ? "-" : "");

    public override string ToString() => Table();
}

/// <summary>Lesson 05's demonstrations: scenarios drawn as heap strips, utilization over a trace, and a comparison of allocators.</summary>
public static class AllocatorDemos
{
    /// <summary>
    /// A short scenario that shows reuse, splitting and coalescing: three blocks, free the middle one, a smaller
    /// block reuses its hole, free the neighbours, then one block as large as the merged hole.
    /// </summary>
    public static IReadOnlyList<TraceOp> Scenario { get; } =
    [
        TraceOp.Alloc(0, 100), TraceOp.Alloc(1, 200), TraceOp.Alloc(2, 100), TraceOp.Alloc(3, 40),
        TraceOp.Free(1), TraceOp.Alloc(4, 60), TraceOp.Free(0), TraceOp.Free(4), TraceOp.Alloc(5, 300), TraceOp.Realloc(2, 180),
    ];

    /// <summary>Plays <paramref name="ops"/> (default <see cref="Scenario"/>) on the allocator called
    /// <paramref name="allocator"/> (see <see cref="Allocators.All"/>) over a fresh heap, with a snapshot after each op.</summary>
    public static ScenarioRun Steps(string allocator, IEnumerable<TraceOp>? ops = null) =>
        Steps(h => Allocators.Create(allocator, h), ops);

    /// <summary>The same for any allocator that can list its blocks (a student's, for example).</summary>
    public static ScenarioRun Steps(Func<SimulatedBreak, IAllocator> create, IEnumerable<TraceOp>? ops = null, long arenaBytes = 1 << 20)
    {
        ArgumentNullException.ThrowIfNull(create);
        using var heap = new SimulatedBreak(arenaBytes);
        var a = create(heap);
        var view = a as IHeapView ?? throw new ArgumentException($"the allocator '{a.Name}' cannot list its blocks (it is no IHeapView)", nameof(create));
        var pointers = new Dictionary<int, nint>();
        var snapshots = new List<HeapSnapshot> { HeapSnapshot.Of(view, "start") };
        foreach (var op in ops ?? Scenario)
        {
            switch (op.Kind)
            {
                case TraceOpKind.Alloc: pointers[op.Id] = a.Malloc(op.Size); break;
                case TraceOpKind.Realloc: pointers[op.Id] = a.Realloc(pointers.GetValueOrDefault(op.Id), op.Size); break;
                default: a.Free(pointers.GetValueOrDefault(op.Id)); pointers.Remove(op.Id); break;
            }
            string label = op.Kind switch
            {
                TraceOpKind.Alloc => $"p{op.Id} = malloc({op.Size})",
                TraceOpKind.Realloc => $"p{op.Id} = realloc(p{op.Id}, {op.Size})",
                _ => $"free(p{op.Id})",
            };
            snapshots.Add(HeapSnapshot.Of(view, label));
        }
        return new ScenarioRun(a.Name, snapshots);
    }

    /// <summary>Replays <paramref name="trace"/> on the allocator called <paramref name="allocator"/>, recording live payload and heap size after each op.</summary>
    public static UtilizationCurve Utilization(string allocator, Trace trace) => Utilization(h => Allocators.Create(allocator, h), trace);

    /// <summary>The same for any allocator.</summary>
    public static UtilizationCurve Utilization(Func<SimulatedBreak, IAllocator> create, Trace trace)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(trace);
        using var heap = new SimulatedBreak(new MallocLabOptions().ArenaBytes(trace));
        var a = create(heap);
        var pointers = new nint[trace.SlotCount];
        var sizes = new long[trace.SlotCount];
        var live = new long[trace.Ops.Count];
        var heapSize = new long[trace.Ops.Count];
        long payload = 0;
        for (int i = 0; i < trace.Ops.Count; i++)
        {
            var op = trace.ReplaySpan[i];
            switch (op.Kind)
            {
                case TraceOpKind.Alloc:
                    pointers[op.Slot] = a.Malloc(op.Size);
                    sizes[op.Slot] = op.Size;
                    payload += op.Size;
                    break;
                case TraceOpKind.Realloc:
                    pointers[op.Slot] = a.Realloc(pointers[op.Slot], op.Size);
                    payload += op.Size - sizes[op.Slot];
                    sizes[op.Slot] = op.Size;
                    break;
                default:
                    a.Free(pointers[op.Slot]);
                    pointers[op.Slot] = 0;
                    payload -= sizes[op.Slot];
                    sizes[op.Slot] = 0;
                    break;
            }
            live[i] = payload;
            heapSize[i] = heap.Size;
        }
        return new UtilizationCurve(a.Name, trace.Name, live, heapSize);
    }

    /// <summary>Runs <see cref="MallocLab"/> for each named allocator on <paramref name="traces"/>, with a short time budget
    /// (<paramref name="minSeconds"/> per trace) so that a notebook stays quick; throughput figures are rough at that budget.
    /// libc is timed once per trace and its figure shared by every allocator's report; a trace is replayed at most 1,000 times.</summary>
    public static AllocatorComparison Compare(IReadOnlyList<Trace> traces, IEnumerable<string>? allocators = null, double minSeconds = 0.02)
    {
        ArgumentNullException.ThrowIfNull(traces);
        // At most 1,000 timed replays of a trace: the tiny traces' replays take microseconds, so without the cap they
        // replay 10,000 times (each on a fresh allocator over a cleared heap) without ever filling the time budget.
        var options = new MallocLabOptions { MinSeconds = minSeconds, WarmUpSeconds = Math.Min(0.3, minSeconds), MaxReplays = 1000 };
        var names = (allocators ?? ["first-fit", "next-fit", "best-fit", "segregated", "segregated-slabs", "buddy", "headerless"]).ToList();
        var libc = MallocLab.RunLibc(traces, options);
        return new AllocatorComparison(names.Select(n => MallocLab.Run(traces, h => Allocators.Create(n, h), options, libc)).ToList());
    }
}

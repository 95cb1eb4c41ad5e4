namespace Lessons.Heap;

public static partial class MallocLab
{
    /// <summary>
    /// Several allocators and libc over the same traces, side by side: trace by trace, <paramref name="rounds"/> rounds
    /// that each time libc and then every allocator (<see cref="MallocLabOptions.MinSeconds"/> each), and the fastest
    /// figure of all rounds counts for each. A machine that is busy now and then slows some replays of each of them, not
    /// all replays of one, so that comparisons between the reports (scores, ratios to libc) hold on a shared machine.
    /// Utilization and correctness come from one checking pass per allocator and trace, as in <see cref="Run(IEnumerable{Trace}, Func{SimulatedBreak, IAllocator}, MallocLabOptions?)"/>.
    /// </summary>
    /// <returns>One report per allocator, in the order of <paramref name="creates"/>; every report has the same libc figures.</returns>
    public static IReadOnlyList<MallocLabReport> RunSideBySide(IEnumerable<Trace> traces, IReadOnlyList<Func<SimulatedBreak, IAllocator>> creates,
        MallocLabOptions? options = null, int rounds = 4)
    {
        ArgumentNullException.ThrowIfNull(traces);
        ArgumentNullException.ThrowIfNull(creates);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rounds);
        options ??= new MallocLabOptions();
        var list = traces.ToList();
        foreach (var create in creates) WarmUp(list, create, options);
        var results = creates.Select(_ => new List<TraceResult>()).ToArray();
        foreach (var trace in list)
        {
            // round 1: the checking pass and a first timing of each allocator, each next to a timing of libc
            var first = creates.Select(c => Run(trace, c, options, libcOpsPerSecond: null)).ToArray();
            double libc = first.Max(r => r.LibcOpsPerSecond);
            var mine = first.Select(r => r.OpsPerSecond).ToArray();
            var replays = first.Select(r => r.Replays).ToArray();
            if (first.Any(r => r.Valid))
            {
                using var heap = new SimulatedBreak(options.ArenaBytes(trace)); // a valid first round reserved this much already
                for (int round = 1; round < rounds; round++)
                {
                    libc = Math.Max(libc, Throughput(trace, null, options, out _));
                    for (int k = 0; k < creates.Count; k++)
                    {
                        if (!first[k].Valid) continue;
                        var create = creates[k];
                        try
                        {
                            mine[k] = Math.Max(mine[k], Throughput(trace, () => { heap.Reset(); return create(heap); }, options, out int n));
                            replays[k] += n;
                        }
                        catch (Exception e) when (e is not OutOfMemoryException)
                        {
                            first[k] = first[k] with { Valid = false, Utilization = null, OpsPerSecond = 0, Score = 0, Error = $"a timed replay (without checks) threw {e.GetType().Name}: {e.Message}" };
                        }
                    }
                }
            }
            for (int k = 0; k < creates.Count; k++)
                results[k].Add(first[k].Valid
                    ? first[k] with { OpsPerSecond = mine[k], LibcOpsPerSecond = libc, Replays = replays[k], Score = Score(first[k].Utilization ?? 0, mine[k], libc, options) }
                    : first[k] with { LibcOpsPerSecond = libc });
        }
        return creates.Select((c, k) => new MallocLabReport(AllocatorName(c), options, results[k])).ToList();
    }
}

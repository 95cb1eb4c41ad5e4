using Bogus;

namespace Lessons.Heap;

/// <summary>
/// Makes malloc-lab traces: random workloads from a fixed seed (Bogus's <see cref="Randomizer"/>, so the same seed
/// gives the same trace on every machine) and the classic patterns that hurt particular allocator designs.
/// Every trace is balanced: whatever is still allocated at the end is freed. The .rep format has no comments, so
/// the seed goes in the trace's name (e.g. <c>random-s42-n4000.rep</c>).
/// </summary>
public static class TraceGenerator
{
    /// <summary>
    /// A random workload of <paramref name="ops"/> ops (one fewer in the rare case that parity forbids it): mostly mallocs and frees of random live blocks, with
    /// <paramref name="reallocShare"/> of the ops reallocs, at most <paramref name="maxLive"/> blocks live at once,
    /// sizes log-uniform in [<paramref name="minSize"/>, <paramref name="maxSize"/>] (many small, some large, as real programs).
    /// </summary>
    public static Trace Random(int seed, int ops = 4000, int maxLive = 200, int minSize = 1, int maxSize = 4096, double reallocShare = 0.1, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ops, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLive, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(minSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSize, minSize);
        ArgumentOutOfRangeException.ThrowIfNegative(reallocShare);
        var random = new Randomizer(seed);
        var list = new List<TraceOp>();
        var live = new List<int>();
        int nextId = 0;
        int Size() => (int)Math.Round(Math.Exp(random.Double(Math.Log(minSize), Math.Log(maxSize + 0.999))) - 0.499);
        while (list.Count + live.Count < ops)
        {
            if (list.Count + live.Count == ops - 1)
            {
                // An alloc would overshoot (it costs its own op and a free at the end): end on a realloc, or one op short.
                if (live.Count == 0) break;
                list.Add(TraceOp.Realloc(live[random.Number(0, live.Count - 1)], Math.Clamp(Size(), minSize, maxSize)));
                continue;
            }
            double roll = random.Double();
            if (live.Count > 0 && roll < reallocShare)
            {
                int id = live[random.Number(0, live.Count - 1)];
                list.Add(TraceOp.Realloc(id, Math.Clamp(Size(), minSize, maxSize)));
            }
            else if (live.Count >= maxLive || (live.Count > 0 && roll < reallocShare + (1 - reallocShare) * live.Count / (double)(maxLive + 1)))
            {
                int at = random.Number(0, live.Count - 1);
                list.Add(TraceOp.Free(live[at]));
                live[at] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else
            {
                list.Add(TraceOp.Alloc(nextId, Math.Clamp(Size(), minSize, maxSize)));
                live.Add(nextId++);
            }
        }
        random.Shuffle(live).ToList().ForEach(id => list.Add(TraceOp.Free(id)));
        return Trace.Create(name ?? $"random-s{seed}-n{ops}.rep", list);
    }

    /// <summary>Many tiny blocks (1 to 16 bytes), where per-block overhead (headers, alignment) dominates.</summary>
    public static Trace Tiny(int seed, int ops = 4000, string? name = null) =>
        Random(seed, ops, maxLive: 500, minSize: 1, maxSize: 16, reallocShare: 0, name: name ?? $"tiny-s{seed}-n{ops}.rep");

    /// <summary>
    /// The lab's binary pattern: <paramref name="pairs"/> times a small then a large block, then every large block is
    /// freed and blocks slightly larger than the large ones are allocated. The holes left are too small for them, so
    /// an allocator without a good placement policy ends up with a heap twice the size it needs.
    /// </summary>
    public static Trace Binary(int pairs = 1000, int small = 64, int large = 448, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pairs, 1);
        var list = new List<TraceOp>();
        for (int i = 0; i < pairs; i++)
        {
            list.Add(TraceOp.Alloc(2 * i, small));
            list.Add(TraceOp.Alloc(2 * i + 1, large));
        }
        for (int i = 0; i < pairs; i++) list.Add(TraceOp.Free(2 * i + 1));
        int bigger = large + small;
        for (int i = 0; i < pairs / 2; i++) list.Add(TraceOp.Alloc(2 * pairs + i, bigger));
        for (int i = 0; i < pairs; i++) list.Add(TraceOp.Free(2 * i));
        for (int i = 0; i < pairs / 2; i++) list.Add(TraceOp.Free(2 * pairs + i));
        return Trace.Create(name ?? $"binary-{small}-{large}-p{pairs}.rep", list);
    }

    /// <summary>
    /// Coalescing: allocate two neighbours, free both, then ask for one block as large as the two together — over
    /// and over. Without coalescing free neighbours, every round grows the heap.
    /// </summary>
    public static Trace Coalescing(int rounds = 1000, int size = 4095, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var list = new List<TraceOp>();
        int id = 0;
        for (int r = 0; r < rounds; r++)
        {
            int a = id++, b = id++, c = id++;
            list.Add(TraceOp.Alloc(a, size));
            list.Add(TraceOp.Alloc(b, size));
            list.Add(TraceOp.Free(a));
            list.Add(TraceOp.Free(b));
            list.Add(TraceOp.Alloc(c, 2 * size));
            list.Add(TraceOp.Free(c));
        }
        return Trace.Create(name ?? $"coalescing-{size}-r{rounds}.rep", list);
    }

    /// <summary>
    /// Realloc-heavy, like the lab's realloc-bal: a few buffers grow step by step (a vector being appended to) while
    /// small blocks are allocated between the steps and pin the space after each buffer. An allocator that cannot
    /// grow in place copies every time and leaves holes behind.
    /// </summary>
    public static Trace ReallocHeavy(int seed, int buffers = 4, int steps = 600, string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buffers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var random = new Randomizer(seed);
        var list = new List<TraceOp>();
        var sizes = new int[buffers];
        for (int b = 0; b < buffers; b++)
        {
            sizes[b] = random.Number(64, 512);
            list.Add(TraceOp.Alloc(b, sizes[b]));
        }
        int next = buffers;
        var small = new List<int>();
        for (int s = 0; s < steps; s++)
        {
            int b = random.Number(0, buffers - 1);
            sizes[b] += random.Number(16, 256);
            list.Add(TraceOp.Realloc(b, sizes[b]));
            list.Add(TraceOp.Alloc(next, random.Number(8, 64)));
            small.Add(next++);
            if (small.Count > 50 && random.Bool())
            {
                int at = random.Number(0, small.Count - 1);
                list.Add(TraceOp.Free(small[at]));
                small.RemoveAt(at);
            }
        }
        for (int b = 0; b < buffers; b++) list.Add(TraceOp.Free(b));
        foreach (int id in small) list.Add(TraceOp.Free(id));
        return Trace.Create(name ?? $"realloc-s{seed}-b{buffers}-n{steps}.rep", list);
    }

    /// <summary>
    /// Hand-made corner cases, all accepted by mdriver's reader: malloc(0), realloc to 0 and back from it (the id
    /// then holds NULL), 1-byte blocks, an id reused after its free, a shrinking realloc, a block of 1 MiB.
    /// </summary>
    public static Trace Edges(string? name = null) => Trace.Create(name ?? "edges.rep",
    [
        TraceOp.Alloc(0, 0), TraceOp.Alloc(1, 1), TraceOp.Alloc(2, 1), TraceOp.Realloc(0, 24), TraceOp.Realloc(1, 0),
        TraceOp.Realloc(1, 17), TraceOp.Free(2), TraceOp.Alloc(2, 15), TraceOp.Realloc(0, 8), TraceOp.Alloc(3, 1 << 20),
        TraceOp.Realloc(3, 100), TraceOp.Free(0), TraceOp.Alloc(0, 16), TraceOp.Realloc(2, 0), TraceOp.Free(2),
        TraceOp.Free(3), TraceOp.Free(1), TraceOp.Free(0), TraceOp.Alloc(4, 4096), TraceOp.Alloc(5, 4095), TraceOp.Free(4),
        TraceOp.Alloc(6, 4097), TraceOp.Free(5), TraceOp.Free(6),
    ]);

    /// <summary>The traces in assets/traces, exactly as they were generated (see assets/traces/README.md).</summary>
    public static IReadOnlyList<Trace> Bundled() =>
    [
        Edges(),
        Tiny(seed: 7),
        Binary(pairs: 1000, small: 64, large: 448),
        Binary(pairs: 1000, small: 16, large: 112),
        Coalescing(rounds: 1000, size: 4095),
        ReallocHeavy(seed: 11),
        Random(seed: 42, ops: 4000),
        Random(seed: 1234, ops: 12000, maxLive: 1000, maxSize: 16384, reallocShare: 0.05),
        Random(seed: 2024, ops: 6000, maxLive: 50, minSize: 100, maxSize: 100_000, reallocShare: 0.2),
    ];
}

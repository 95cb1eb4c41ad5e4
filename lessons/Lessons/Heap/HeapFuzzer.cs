using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>What a <see cref="HeapFuzzer"/> run did and found.</summary>
public sealed record FuzzResult(string Allocator, int Operations, int Seed, long Mallocs, long Reallocs, long Frees,
    long OutOfMemory, long MisuseRefused, int Violations, string? FirstViolation, TimeSpan Elapsed)
{
    public override string ToString() =>
        $"{Allocator,-16} ops {Operations:N0}  malloc {Mallocs:N0}  realloc {Reallocs:N0}  free {Frees:N0}  out-of-memory {OutOfMemory:N0}  " +
        $"bad frees refused {MisuseRefused:N0}  violations {Violations}  time {Elapsed.TotalSeconds:F2} s" +
        (FirstViolation is null ? "" : $"\n  first violation: {FirstViolation}");
}

/// <summary>
/// Random operations against an allocator, checking the <see cref="IAllocator"/> contract and the heap after each:
/// malloc, calloc, realloc (growing, shrinking, to 0) and free of random sizes (mostly small, sometimes larger than the
/// arena), and now and then a free of a pointer that is not live, which must throw <see cref="HeapMisuseException"/>.
/// Every payload is filled with its own byte, checked when it is freed or reallocated (so overlapping blocks are
/// found) and all of them every 1,000 operations. Returned pointers must be aligned and inside the heap;
/// <see cref="HeapChecker"/> runs after every operation.
/// </summary>
public static class HeapFuzzer
{
    sealed class Live(nint p, long size, byte fill) { public nint P = p; public long Size = size; public byte Fill = fill; }

    /// <summary>Runs <paramref name="operations"/> operations with a fixed <paramref name="seed"/> on a fresh arena of <paramref name="arenaBytes"/>.</summary>
    public static FuzzResult Run(string allocator, int operations, int seed = 1, long arenaBytes = 4 << 20, int maxViolations = 10)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        return Run(heap => Allocators.Create(allocator, heap), operations, seed, arenaBytes, maxViolations);
    }

    /// <summary>The same for any allocator: <paramref name="create"/> makes it over the fresh arena (for example a student's).</summary>
    public static unsafe FuzzResult Run(Func<SimulatedBreak, IAllocator> create, int operations, int seed = 1, long arenaBytes = 4 << 20, int maxViolations = 10)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfNegative(operations);
        using var heap = new SimulatedBreak(arenaBytes);
        var a = create(heap);
        var view = a as IHeapView;
        var rng = new Random(seed);
        var live = new List<Live>();
        var stale = new List<nint>();
        var liveSet = new HashSet<nint>();
        long mallocs = 0, reallocs = 0, frees = 0, oom = 0, refused = 0;
        int violations = 0;
        string? first = null;
        byte nextFill = 1;
        var clock = Stopwatch.StartNew();

        void Fail(int op, string what)
        {
            violations++;
            first ??= $"operation {op}: {what}";
        }

        Span<byte> Bytes(nint p, long n) => new((void*)p, checked((int)n));

        long RandomSize()
        {
            int r = rng.Next(1000);
            return r < 700 ? rng.Next(1, 129)
                : r < 900 ? rng.Next(129, 2049)
                : r < 990 ? rng.Next(2049, 32769)
                : r < 998 ? rng.Next(32769, 262145)
                : arenaBytes + rng.Next(1, 4096); // can never fit
        }

        bool CheckPointer(int op, nint p, long size, string call)
        {
            if (p % 16 != 0) { Fail(op, $"{call} returned 0x{p:x}, not 16-byte aligned"); return false; }
            if (p < heap.HeapLo || (long)p + size > (long)heap.Break) { Fail(op, $"{call} returned 0x{p:x}, whose {size} bytes are not inside the heap"); return false; }
            if (liveSet.Contains(p)) { Fail(op, $"{call} returned 0x{p:x}, which is still live"); return false; }
            return true;
        }

        void Verify(int op, Live b, long n, string when)
        {
            int bad = Bytes(b.P, n).IndexOfAnyExcept(b.Fill);
            if (bad >= 0) Fail(op, $"{when}: byte {bad} of the block 0x{b.P:x} ({b.Size} bytes) changed (another block overlaps it?)");
        }

        byte Fill() { byte f = nextFill; nextFill = (byte)(nextFill == 255 ? 1 : nextFill + 1); return f; }

        for (int op = 0; op < operations && violations < maxViolations; op++)
        {
            int target = (op / 5000) % 2 == 0 ? 100 : 1000;
            int r = rng.Next(100);
            if (live.Count == 0 || (r < (live.Count < target ? 60 : 35)))
            {
                long size = RandomSize();
                bool zero = rng.Next(4) == 0;
                nint p = zero ? a.Calloc(size / 4 + 1, 4) : a.Malloc(size);
                if (zero) size = (size / 4 + 1) * 4;
                mallocs++;
                if (p == 0) oom++;
                else if (CheckPointer(op, p, size, zero ? "calloc" : "malloc"))
                {
                    if (zero && Bytes(p, size).IndexOfAnyExcept((byte)0) is int nz and >= 0) Fail(op, $"calloc's byte {nz} is not 0");
                    var b = new Live(p, size, Fill());
                    Bytes(p, size).Fill(b.Fill);
                    live.Add(b);
                    liveSet.Add(p);
                }
            }
            else if (r < 70)
            {
                int i = rng.Next(live.Count);
                var b = live[i];
                Verify(op, b, b.Size, "before free");
                a.Free(b.P);
                frees++;
                live[i] = live[^1];
                live.RemoveAt(live.Count - 1);
                liveSet.Remove(b.P);
                stale.Add(b.P);
            }
            else if (r < 95)
            {
                int i = rng.Next(live.Count);
                var b = live[i];
                long size = rng.Next(20) == 0 ? 0 : rng.Next(3) == 0 ? Math.Max(1, b.Size / 2) : rng.Next(2) == 0 ? b.Size + rng.Next(1, 256) : RandomSize();
                Verify(op, b, b.Size, "before realloc");
                liveSet.Remove(b.P);
                nint q = a.Realloc(b.P, size);
                reallocs++;
                if (size == 0)
                {
                    if (q != 0) Fail(op, "realloc(p, 0) did not return 0");
                    live[i] = live[^1];
                    live.RemoveAt(live.Count - 1);
                    stale.Add(b.P);
                }
                else if (q == 0)
                {
                    oom++;
                    liveSet.Add(b.P);
                    Verify(op, b, b.Size, "after a failed realloc");
                }
                else if (CheckPointer(op, q, size, "realloc"))
                {
                    if (q != b.P) stale.Add(b.P);
                    var kept = new Live(q, size, b.Fill);
                    Verify(op, kept, Math.Min(size, b.Size), "after realloc");
                    kept.Fill = Fill();
                    Bytes(q, size).Fill(kept.Fill);
                    live[i] = kept;
                    liveSet.Add(q);
                }
            }
            else
            {
                // a free that must be refused: a stale pointer, or one inside a live block
                nint bad = stale.Count > 0 && rng.Next(2) == 0 ? stale[rng.Next(stale.Count)] : live[rng.Next(live.Count)].P + 8 * rng.Next(1, 4);
                if (!liveSet.Contains(bad))
                {
                    try
                    {
                        a.Free(bad);
                        Fail(op, $"free(0x{bad:x}) of a pointer that is not live did not throw");
                    }
                    catch (HeapMisuseException) { refused++; }
                }
            }
            if (stale.Count > 256) stale.RemoveRange(0, 128);
            if (view is not null && HeapChecker.Check(view) is { } v) Fail(op, $"heap check: {v}");
            if (op % 1000 == 999) foreach (var b in live) Verify(op, b, b.Size, "periodic check");
        }
        foreach (var b in live) Verify(operations, b, b.Size, "at the end");
        foreach (var b in live) a.Free(b.P);
        if (view is not null && HeapChecker.Check(view) is { } end) Fail(operations, $"heap check after freeing everything: {end}");
        return new FuzzResult(a.Name, operations, seed, mallocs, reallocs, frees, oom, refused, violations, first, clock.Elapsed);
    }
}

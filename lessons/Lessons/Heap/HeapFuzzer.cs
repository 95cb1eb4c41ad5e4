using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.Heap;

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
    /// <summary>Runs <paramref name="operations"/> operations with a fixed <paramref name="seed"/> on a fresh arena of <paramref name="arenaBytes"/>.</summary>
    public static FuzzResult Run(string allocator, int operations, int seed = 1, long arenaBytes = 4 << 20, int maxViolations = 10)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        return Run(heap => Allocators.Create(allocator, heap), operations, seed, arenaBytes, maxViolations);
    }

    /// <summary>The same for any allocator: <paramref name="create"/> makes it over the fresh arena (for example a student's).</summary>
    public static FuzzResult Run(Func<SimulatedBreak, IAllocator> create, int operations, int seed = 1, long arenaBytes = 4 << 20, int maxViolations = 10)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfNegative(operations);
        using var heap = new SimulatedBreak(arenaBytes);
        return new Session(create(heap), heap, seed, arenaBytes).Run(operations, maxViolations);
    }

    sealed class Live(nint p, long size, byte fill) { public nint P = p; public long Size = size; public byte Fill = fill; }

    /// <summary>One run: the allocator, the blocks it holds live (each with its fill byte), recently freed pointers, and the counts.</summary>
    sealed class Session(IAllocator a, SimulatedBreak heap, int seed, long arenaBytes)
    {
        readonly IHeapView? view = a as IHeapView;
        readonly Random rng = new(seed);
        readonly List<Live> live = [];
        readonly List<nint> stale = [];
        readonly HashSet<nint> liveSet = [];
        long mallocs, reallocs, frees, oom, refused;
        int violations;
        string? first;
        byte nextFill = 1;

        public FuzzResult Run(int operations, int maxViolations)
        {
            var clock = Stopwatch.StartNew();
            for (int op = 0; op < operations && violations < maxViolations; op++)
            {
                Step(op);
                if (stale.Count > 256) stale.RemoveRange(0, 128);
                if (view is not null && HeapChecker.Check(view) is { } v) Fail(op, $"heap check: {v}");
                if (op % 1000 == 999) foreach (var b in live) Verify(op, b, b.Size, "periodic check");
            }
            foreach (var b in live) Verify(operations, b, b.Size, "at the end");
            foreach (var b in live) a.Free(b.P);
            if (view is not null && HeapChecker.Check(view) is { } end) Fail(operations, $"heap check after freeing everything: {end}");
            return new FuzzResult(a.Name, operations, seed, mallocs, reallocs, frees, oom, refused, violations, first, clock.Elapsed);
        }

        // The live-block target alternates between 100 and 1,000 every 5,000 operations; below it, allocating is likelier.
        void Step(int op)
        {
            int target = (op / 5000) % 2 == 0 ? 100 : 1000;
            int r = rng.Next(100);
            if (live.Count == 0 || (r < (live.Count < target ? 60 : 35))) Allocate(op);
            else if (r < 70) Free(op);
            else if (r < 95) Realloc(op);
            else FreeNotLive(op);
        }

        void Allocate(int op)
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
                var b = new Live(p, size, NextFill());
                Bytes(p, size).Fill(b.Fill);
                live.Add(b);
                liveSet.Add(p);
            }
        }

        void Free(int op)
        {
            int i = rng.Next(live.Count);
            var b = live[i];
            Verify(op, b, b.Size, "before free");
            a.Free(b.P);
            frees++;
            RemoveLive(i);
            liveSet.Remove(b.P);
            stale.Add(b.P);
        }

        void Realloc(int op)
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
                RemoveLive(i);
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
                kept.Fill = NextFill();
                Bytes(q, size).Fill(kept.Fill);
                live[i] = kept;
                liveSet.Add(q);
            }
        }

        // A free that must be refused: a stale pointer, or one inside a live block.
        void FreeNotLive(int op)
        {
            nint bad = stale.Count > 0 && rng.Next(2) == 0 ? stale[rng.Next(stale.Count)] : live[rng.Next(live.Count)].P + 8 * rng.Next(1, 4);
            if (liveSet.Contains(bad)) return;
            try
            {
                a.Free(bad);
                Fail(op, $"free(0x{bad:x}) of a pointer that is not live did not throw");
            }
            catch (HeapMisuseException) { refused++; }
        }

        void Fail(int op, string what)
        {
            violations++;
            first ??= $"operation {op}: {what}";
        }

        static unsafe Span<byte> Bytes(nint p, long n) => new((void*)p, checked((int)n));

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

        byte NextFill() { byte f = nextFill; nextFill = (byte)(nextFill == 255 ? 1 : nextFill + 1); return f; }

        // Swap-remove: the order of the live list does not matter.
        void RemoveLive(int i)
        {
            live[i] = live[^1];
            live.RemoveAt(live.Count - 1);
        }
    }
}

using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>The checking pass of <see cref="MallocLab.Check"/>, and its state: the live blocks by id and by address.</summary>
sealed class MallocLabChecker(Trace trace, IAllocator allocator, SimulatedBreak? heap, int alignment)
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
                PayloadPattern.Fill(p, op.Size, id);
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
                if (p != 0 && PayloadPattern.FirstDifference(p, kept, id) is { } at)
                    return $"{Call(op)} returned {CFormat.Hex(p)} but lost the old contents: byte {at} of the {kept} that must be kept differs " +
                           $"(block {id} had {oldSize} bytes at {CFormat.Hex(old)})";
                PayloadPattern.Fill(p, op.Size, id);
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
        return PayloadPattern.FirstDifference(p, size, id) is { } at
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

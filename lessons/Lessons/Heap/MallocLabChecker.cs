using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// The checking pass of <see cref="MallocLab.Check"/>, and its state: the live blocks by slot (see
/// <see cref="Trace.ReplaySpan"/>; slot 0 is NULL) and by address. Messages name the trace's ids.
/// </summary>
sealed class MallocLabChecker(Trace trace, IAllocator allocator, SimulatedBreak? heap, int alignment)
{
    readonly nint[] pointers = new nint[trace.SlotCount];
    readonly int[] sizes = new int[trace.SlotCount];
    readonly int[] allocatedAt = new int[trace.SlotCount];
    readonly int[] ids = new int[trace.SlotCount];     // slot → the trace's id
    readonly List<nint> starts = [];               // sorted starts of live payloads (size > 0)
    readonly Dictionary<nint, int> slotAt = [];    // start → slot
    long live, peak, heapPeak, sidePeak, sampledAt = -1;
    string call = "";                              // the call the current op makes, named before it changes the state

    public CheckResult Run()
    {
        var ops = trace.Ops;
        for (int i = 0; i < ops.Count; i++)
        {
            var op = ops[i];
            var replay = trace.ReplaySpan[i];
            string? error;
            try
            {
                error = Step(op, replay.Slot);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                error = $"{call} threw {e.GetType().Name}: {e.Message}";
            }
            if (heap is not null)
            {
                heapPeak = Math.Max(heapPeak, heap.Size);
                if (i % sampleEvery == 0 || heap.Size > sampledAt + Math.Max(4096, sampledAt / 32)) SampleSideState();
            }
            if (error is not null)
                return new CheckResult(false, $"op {i} (line {op.Line}, '{op}'): {error}", i, op.Line, peak, heap is null ? null : heapPeak, sidePeak);
        }
        if (heap is not null) SampleSideState();
        for (int slot = 0; slot < pointers.Length && ops.Count > 0; slot++)
            if (Intact(slot, "after the last op") is { } damaged)
                return new CheckResult(false, $"op {ops.Count - 1} (line {ops[^1].Line}, '{ops[^1]}'): {damaged}", ops.Count - 1, ops[^1].Line, peak, heap is null ? null : heapPeak, sidePeak);
        return new CheckResult(true, null, null, null, peak, heap is null ? null : heapPeak, sidePeak);
    }

    // The side state is measured 64 times over the trace and whenever the heap has grown by 1/32 since the last time:
    // side tables grow with the heap or with the live blocks, and a measurement walks them.
    readonly int sampleEvery = Math.Max(1, trace.Ops.Count / 64);

    void SampleSideState()
    {
        sampledAt = heap!.Size;
        sidePeak = Math.Max(sidePeak, SideState.Bytes(allocator, heap));
    }

    string Call(TraceOp op, int slot) => op.Kind switch
    {
        TraceOpKind.Alloc => $"malloc({op.Size})",
        TraceOpKind.Realloc => $"realloc({Pointer(pointers[slot])}, {op.Size})",
        _ => $"free({Pointer(pointers[slot])})",
    };

    static string Pointer(nint p) => p == 0 ? "NULL" : CFormat.Hex(p);

    // Payload patterns are keyed by slot: a leaked block and its id's next block differ.
    string? Step(TraceOp op, int slot)
    {
        ids[slot] = op.Id;
        call = Call(op, slot);
        switch (op.Kind)
        {
            case TraceOpKind.Alloc:
            {
                nint p = allocator.Malloc(op.Size);
                if (Admit(call, op.Size, p) is { } bad) return bad;
                PayloadPattern.Fill(p, op.Size, slot);
                Remember(slot, p, op.Size, op.Line);
                return null;
            }
            case TraceOpKind.Realloc:
            {
                nint old = pointers[slot];
                int oldSize = sizes[slot];
                if (Intact(slot, $"before {call}") is { } damaged) return damaged;
                Forget(slot);
                nint p = allocator.Realloc(old, op.Size);
                if (Admit(call, op.Size, p) is { } bad) return bad;
                int kept = Math.Min(oldSize, op.Size);
                if (p != 0 && PayloadPattern.FirstDifference(p, kept, slot) is { } at)
                    return $"{call} returned {CFormat.Hex(p)} but lost the old contents: byte {at} of the {kept} that must be kept differs " +
                           $"(block {op.Id} had {oldSize} bytes at {CFormat.Hex(old)})";
                PayloadPattern.Fill(p, op.Size, slot);
                Remember(slot, p, op.Size, op.Line);
                return null;
            }
            default:
            {
                if (Intact(slot, $"before {call}") is { } damaged) return damaged;
                nint p = pointers[slot];
                Forget(slot);
                allocator.Free(p);
                return null;
            }
        }
    }

    /// <summary>Checks a block just returned by <paramref name="call"/> (size &gt; 0): non-null, aligned, inside the heap, no overlap.</summary>
    string? Admit(string call, int size, nint p)
    {
        if (size == 0) return null;
        if (p == 0)
            return $"{call} returned NULL" + (heap is null ? "" : $" (out of memory? the heap is {heap.Size:N0} of at most {heap.MaxSize:N0} bytes)");
        if (p % alignment != 0)
            return $"{call} returned {CFormat.Hex(p)}, which is not aligned to {alignment} bytes (it is {p % alignment} past a multiple)";
        nint end = p + size;
        if (heap is not null && (p < heap.HeapLo || end > heap.Break || end < p))
            return $"{call} returned the payload [{CFormat.Hex(p)}, {CFormat.Hex(end)}), which lies outside the heap [{CFormat.Hex(heap.HeapLo)}, {CFormat.Hex(heap.Break)})";
        int index = starts.BinarySearch(p);
        if (index >= 0)
            return Overlap(call, p, end, starts[index]);
        index = ~index;
        if (index > 0 && starts[index - 1] + sizes[slotAt[starts[index - 1]]] > p)
            return Overlap(call, p, end, starts[index - 1]);
        if (index < starts.Count && starts[index] < end)
            return Overlap(call, p, end, starts[index]);
        return null;
    }

    string Overlap(string call, nint p, nint end, nint other)
    {
        int slot = slotAt[other];
        return $"{call} returned the payload [{CFormat.Hex(p)}, {CFormat.Hex(end)}), which overlaps block {ids[slot]}'s payload " +
               $"[{CFormat.Hex(other)}, {CFormat.Hex(other + sizes[slot])}) (allocated at line {allocatedAt[slot]})";
    }

    string? Intact(int slot, string when)
    {
        nint p = pointers[slot];
        int size = sizes[slot];
        if (p == 0 || size == 0) return null;
        return PayloadPattern.FirstDifference(p, size, slot) is { } at
            ? $"{when}: block {ids[slot]}'s payload [{CFormat.Hex(p)}, {CFormat.Hex(p + size)}) (allocated at line {allocatedAt[slot]}) was overwritten while it was live, first at byte {at}"
            : null;
    }

    void Remember(int slot, nint p, int size, int line)
    {
        pointers[slot] = p;
        sizes[slot] = size;
        allocatedAt[slot] = line;
        live += size;
        peak = Math.Max(peak, live);
        if (p == 0 || size == 0) return;
        int index = starts.BinarySearch(p);
        starts.Insert(index < 0 ? ~index : index, p);
        slotAt[p] = slot;
    }

    void Forget(int slot)
    {
        nint p = pointers[slot];
        live -= sizes[slot];
        if (p != 0 && sizes[slot] > 0 && slotAt.Remove(p))
            starts.RemoveAt(starts.BinarySearch(p));
        pointers[slot] = 0;
        sizes[slot] = 0;
    }

    public void FreeLiveBlocks()
    {
        for (int slot = 0; slot < pointers.Length; slot++)
        {
            if (pointers[slot] != 0) Unchecked.Free(pointers[slot]);
            pointers[slot] = 0;
        }
    }
}

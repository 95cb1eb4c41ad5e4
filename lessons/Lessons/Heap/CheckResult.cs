namespace Lessons.Heap;

/// <summary>
/// The correctness pass of one trace: whether every op behaved, the first error, and the space figures for utilization.
/// </summary>
/// <param name="Valid">No check failed.</param>
/// <param name="Error">The first failure: op index, trace line, op, and what went wrong.</param>
/// <param name="OpIndex">The 0-based index of the failing op (null when valid).</param>
/// <param name="Line">The failing op's line in the trace file (null when valid).</param>
/// <param name="PeakPayload">The most payload bytes live at once.</param>
/// <param name="HeapBytes">The largest size the simulated heap reached (null for libc, whose heap size is not reported).</param>
/// <param name="SideBytes">The most state the allocator kept outside its heap (<see cref="SideState"/>), 0 for libc.</param>
public sealed record CheckResult(bool Valid, string? Error, int? OpIndex, int? Line, long PeakPayload, long? HeapBytes, long SideBytes = 0)
{
    /// <summary>
    /// The lab's utilization: peak payload ÷ the memory used for it, that is the heap's high-water mark plus the most
    /// side state (side tables count like heap bytes); null for libc.
    /// </summary>
    public double? Utilization => HeapBytes is not { } heap ? null
        : heap + SideBytes == 0 ? (PeakPayload == 0 ? 1 : 0)
        : Math.Min(1, (double)PeakPayload / (heap + SideBytes));

    /// <summary>Peak payload ÷ the heap's high-water mark alone: how well the heap's layout packs, side state aside.</summary>
    public double? HeapUtilization => HeapBytes is not { } heap ? null : heap == 0 ? (PeakPayload == 0 ? 1 : 0) : Math.Min(1, (double)PeakPayload / heap);

    public override string ToString() => Valid
        ? $"valid; peak payload {PeakPayload:N0} bytes" + (HeapBytes is { } h ? $", heap {h:N0} bytes, side state {SideBytes:N0} bytes, utilization {Utilization:P1}" : "")
        : $"INVALID: {Error}";
}

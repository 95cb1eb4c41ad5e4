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

namespace Lessons.L10_SysvUptime;

/// <summary>The outcome of <see cref="UptimeLoad.Run"/>.</summary>
public sealed record UptimeLoadResult(
    bool Seqlock, int Clients, TimeSpan Elapsed, long Writes, long Reads, long Torn, long NotMonotonic, long Retries, long MostAttached)
{
    /// <summary>At least this many server writes make a run that loaded anything.</summary>
    public const long MinimumWrites = 1000;
    /// <summary>And at least this many readings per client.</summary>
    public const long MinimumReadsPerClient = 10;

    /// <summary>The run did load the segment: enough writes and enough readings to say anything.</summary>
    public bool Loaded => Writes >= MinimumWrites && Reads >= MinimumReadsPerClient * Clients;

    /// <summary>Every reading whole and no client saw time go back.</summary>
    public bool AllConsistent => Torn == 0 && NotMonotonic == 0;

    public override string ToString() =>
        $"{Clients} clients for {Elapsed.TotalSeconds:0.0} s {(Seqlock ? "with" : "WITHOUT")} the seqlock: {Writes:N0} writes, {Reads:N0} reads " +
        $"({Reads / Math.Max(Elapsed.TotalSeconds, 1e-9):N0}/s), torn {Torn:N0}, not monotonic {NotMonotonic:N0}, retries {Retries:N0}, " +
        $"most attached at once {MostAttached} → " +
        (!Loaded ? $"NOT LOADED: needs at least {MinimumWrites:N0} writes and {MinimumReadsPerClient * Clients:N0} reads ({MinimumReadsPerClient} per client); nothing is shown"
        : AllConsistent ? "every reading consistent and monotonic" : "INCONSISTENT readings");
}

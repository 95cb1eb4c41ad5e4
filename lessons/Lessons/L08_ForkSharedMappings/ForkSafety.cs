using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.L08_ForkSharedMappings;

/// <summary>What a run of many forks under allocation load gave: see <see cref="ForkSafety.Stress"/>.</summary>
public sealed record ForkStressRun(
    int Forks, int AllocatingThreads, long StartRetries, int Errors, IReadOnlyList<string> ErrorMessages,
    long Counter, int ChildrenLeft, int Collections, TimeSpan Elapsed, bool Interrupted = false)
{
    /// <summary>This process's resident anonymous memory (KiB) as the last fork ended, its allocating threads still running.</summary>
    public long RssAnonKiB { get; init; }

    /// <summary>This process's mappings (lines of /proc/self/maps) at the same moment.</summary>
    public int Mappings { get; init; }

    /// <summary>Every child added its 1, no child failed, none is left behind.</summary>
    public bool Exact => Counter == Forks && Errors == 0 && ChildrenLeft == 0;

    public double ForksPerSecond => Forks / Elapsed.TotalSeconds;

    public override string ToString() =>
        $"forks done:        {Forks} (with {AllocatingThreads} threads allocating meanwhile){(Interrupted ? ", INTERRUPTED before the number asked for" : "")}\n" +
        $"hangs recovered:   {StartRetries} (children killed before their first step and forked again)\n" +
        $"child errors:      {Errors}\n" +
        $"shared counter:    {Counter} (expected {Forks}: {(Counter == Forks ? "exact" : "WRONG")})\n" +
        $"children left:     {ChildrenLeft}\n" +
        $"GCs meanwhile:     {Collections}\n" +
        $"forks per second:  {ForksPerSecond:0} ({Elapsed.TotalSeconds:0.0} s)";
}

/// <summary>
/// Lesson 08, step 5: how safe <see cref="Fork"/> is in practice. Many forks while other threads allocate flat out (so
/// garbage collections keep suspending threads), each child adding 1 to a shared counter.
/// </summary>
public static class ForkSafety
{
    /// <summary>
    /// Runs <paramref name="forks"/> children one after the other while <paramref name="allocatingThreads"/> threads
    /// allocate; reports start retries (children that hung before their first step), errors, the counter, children left.
    /// <paramref name="cancel"/> stops it after the fork in progress (the run then reports the forks done).
    /// </summary>
    public static unsafe ForkStressRun Stress(int forks, int allocatingThreads, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(forks);
        ArgumentOutOfRangeException.ThrowIfNegative(allocatingThreads);
        using var shared = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        using var stop = new CancellationTokenSource();
        var allocators = Enumerable.Range(0, allocatingThreads)
            .Select(_ => new Thread(() => Allocate(stop.Token)) { IsBackground = true }).ToList();
        allocators.ForEach(t => t.Start());
        var messages = new List<string>();
        long retriesBefore = Fork.StartRetriesTotal;
        int gcBefore = GC.CollectionCount(0), errors = 0;
        var clock = Stopwatch.StartNew();
        int done = 0, mappings;
        long rss;
        try
        {
            for (; done < forks && !cancel.IsCancellationRequested; done++)
            {
                try
                {
                    var outcome = Fork.Run(AddOne, shared.Address);
                    if (outcome.ExitCode != 0)
                    {
                        errors++;
                        messages.Add(outcome.ToString());
                    }
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    errors++;
                    messages.Add(e.Message);
                }
            }
        }
        finally
        {
            clock.Stop();
            (rss, mappings) = (CForkLoop.RssAnonKiB(), CForkLoop.MappingCount());
            stop.Cancel();
            allocators.ForEach(t => t.Join());
        }
        return new ForkStressRun(done, allocatingThreads, Fork.StartRetriesTotal - retriesBefore, errors, messages,
            Volatile.Read(ref *(long*)shared.Address), ChildrenOfThisProcess(), GC.CollectionCount(0) - gcBefore, clock.Elapsed,
            Interrupted: done < forks)
        { RssAnonKiB = rss, Mappings = mappings };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int AddOne(nint counter)
    {
        Interlocked.Increment(ref *(long*)counter);
        return 0;
    }

    static void Allocate(CancellationToken stop)
    {
        var keep = new object[1024];
        for (int i = 0; !stop.IsCancellationRequested; i++)
            keep[i & 1023] = new byte[64 + (i & 4095)];
    }

    /// <summary>Live or zombie children, as the kernel lists them for every thread of this process.</summary>
    public static int ChildrenOfThisProcess() =>
        Directory.GetDirectories("/proc/self/task").Sum(t => ChildrenOfThread(Path.Combine(t, "children")));

    // A thread that ends between the listing and the read has no file left and counts none: its children go to
    // another thread of this process.
    static int ChildrenOfThread(string file)
    {
        try
        {
            return File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Workbook;

/// <summary>
/// `fork-stress`: many forks while other threads allocate flat out (so GCs keep suspending threads), each child
/// adding one to a shared counter. Prints forks done, children that hung before their first step and were
/// replaced, children left behind (must be 0), whether the counter is exact, and forks per second.
/// </summary>
internal static class ForkStress
{
    public static int Execute(string[] args)
    {
        int forks = 3000, threads = 3;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--forks" when i + 1 < args.Length && int.TryParse(args[i + 1], out forks) && forks > 0: i++; break;
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out threads) && threads >= 0: i++; break;
                default:
                    Console.Error.WriteLine("usage: fork-stress [--forks N (default 3000)] [--threads T allocating threads (default 3)]");
                    return 2;
            }
        }
        Console.WriteLine($"fork-stress: forks={forks} allocating-threads={threads} pid={Environment.ProcessId}");
        var result = Run(forks, threads);
        Console.WriteLine($"forks done:        {result.Forks}");
        Console.WriteLine($"hangs recovered:   {result.StartRetries} (children killed before their first step and forked again)");
        Console.WriteLine($"child errors:      {result.Errors}");
        Console.WriteLine($"shared counter:    {result.Counter} (expected {result.Forks}: {(result.Counter == result.Forks ? "exact" : "WRONG")})");
        Console.WriteLine($"children left:     {result.ChildrenLeft}");
        Console.WriteLine($"GCs meanwhile:     {result.Collections}");
        Console.WriteLine($"forks per second:  {result.Forks / result.Elapsed.TotalSeconds:0} ({result.Elapsed.TotalSeconds:0.0} s)");
        return result.Counter == result.Forks && result.ChildrenLeft == 0 && result.Errors == 0 ? 0 : 1;
    }

    internal sealed record Result(int Forks, long StartRetries, int Errors, int Counter, int ChildrenLeft, int Collections, TimeSpan Elapsed);

    internal static unsafe Result Run(int forks, int threads)
    {
        using var shared = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        using var stop = new CancellationTokenSource();
        var allocators = Enumerable.Range(0, threads).Select(_ => new Thread(() => Allocate(stop.Token)) { IsBackground = true }).ToList();
        allocators.ForEach(t => t.Start());
        long retriesBefore = Fork.StartRetriesTotal;
        int gcBefore = GC.CollectionCount(0), errors = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < forks; i++)
        {
            try
            {
                if (Fork.Run(AddOne, shared.Address).ExitCode != 0) errors++;
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                errors++;
                Console.Error.WriteLine(e.Message);
            }
        }
        clock.Stop();
        stop.Cancel();
        allocators.ForEach(t => t.Join());
        return new Result(forks, Fork.StartRetriesTotal - retriesBefore, errors, *(int*)shared.Address,
            ChildrenOfThisProcess(), GC.CollectionCount(0) - gcBefore, clock.Elapsed);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int AddOne(nint counter)
    {
        Interlocked.Increment(ref *(int*)counter);
        return 0;
    }

    static void Allocate(CancellationToken stop)
    {
        var keep = new object[1024];
        for (int i = 0; !stop.IsCancellationRequested; i++)
            keep[i & 1023] = new byte[64 + (i & 4095)];
    }

    /// <summary>Live or zombie children, as the kernel lists them for every thread of this process.</summary>
    internal static int ChildrenOfThisProcess() =>
        Directory.GetDirectories("/proc/self/task")
            .Select(t => Path.Combine(t, "children"))
            .Where(File.Exists)
            .Sum(f => File.ReadAllText(f).Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
}

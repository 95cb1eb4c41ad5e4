using Lessons.L08_ForkSharedMappings;
using Lessons.Posix;

namespace Workbook.L08_ForkSharedMappings;

/// <summary>
/// `fork-stress`: many forks while other threads allocate flat out (so GCs keep suspending threads), each child
/// adding one to a shared counter (<see cref="ForkSafety.Stress"/>, lesson 08). Prints forks done, children that hung
/// before their first step and were replaced, children left behind (must be 0), whether the counter is exact, and
/// forks per second; then (unless --no-compare) two C fork loops (<see cref="CForkLoop"/>): one with this process's shape
/// (as much resident anonymous memory, as many mappings, as many threads allocating), one with its anonymous memory only;
/// the rates and their ratios to .NET's. The comparison never changes the exit code. SIGINT, SIGTERM or SIGHUP stop it after the fork in progress, with the figures so far and exit 1.
/// </summary>
static class ForkStressCommand
{
    /// <summary>More allocating threads than this only queue for the two or so cores a course machine has.</summary>
    public const int MaxThreads = 64;

    public const int MaxForks = 1_000_000;

    /// <summary>Each C loop stops after this long even if it has not done the fork count.</summary>
    public static readonly TimeSpan CompareBudget = TimeSpan.FromSeconds(15);

    static readonly string Usage =
        $"usage: fork-stress [--forks N (1 to {MaxForks:N0}; default 3000)] [--threads T allocating threads (0 to {MaxThreads}; default 3)] [--no-compare (skip the C fork loop)]";

    public static int Execute(string[] args) => CommandLine.Run("fork-stress", Usage, args, Parse, Run);

    static (int Forks, int Threads, bool Compare) Parse(CommandLine.Arguments a)
    {
        int forks = 3000, threads = 3;
        bool compare = true;
        while (a.NextOption() is { } option)
        {
            switch (option)
            {
                case "--forks": forks = a.Number(option, 1, MaxForks); break;
                case "--threads": threads = a.Number(option, 0, MaxThreads); break;
                case "--no-compare": compare = false; break;
                default: throw CommandLine.Arguments.Unknown(option);
            }
        }
        return (forks, threads, compare);
    }

    static int Run((int Forks, int Threads, bool Compare) o)
    {
        using var interrupt = new CancellationTokenSource();
        using var stop = ProcessCleanup.StopGracefully(signal =>
        {
            Console.Error.WriteLine($"fork-stress: {signal}: stopping after the fork in progress (send it again to stop at once)");
            interrupt.Cancel();
        });
        // Printed once a signal stops it gracefully: a script may send one as soon as it sees this line.
        Console.WriteLine($"fork-stress: forks={o.Forks} allocating-threads={o.Threads} pid={Environment.ProcessId}");
        var result = ForkSafety.Stress(o.Forks, o.Threads, interrupt.Token);
        foreach (string message in result.ErrorMessages)
            Console.Error.WriteLine(message);
        Console.WriteLine(result);
        if (o.Compare)
            Compare(result, interrupt.Token);
        return result.Exact && !result.Interrupted ? 0 : 1;
    }

    /// <summary>The C loops with the same fork count, their rates and ratios; a benchmark figure only.</summary>
    static void Compare(ForkStressRun result, CancellationToken interrupt)
    {
        if (result.Interrupted || interrupt.IsCancellationRequested)
        {
            Console.WriteLine("C comparison:      skipped (the run was interrupted)");
            return;
        }
        try
        {
            var comparison = CForkLoop.CompareWith(result, CompareBudget, out string? skipped);
            Console.WriteLine(comparison?.ToString() ?? $"C comparison:      skipped ({skipped})");
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.ComponentModel.Win32Exception)
        {
            Console.WriteLine($"C comparison:      failed ({e.Message})");
        }
    }
}

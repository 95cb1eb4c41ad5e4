using Lessons.L08_ForkSharedMappings;

namespace Workbook.L08_ForkSharedMappings;

/// <summary>
/// `fork-stress`: many forks while other threads allocate flat out (so GCs keep suspending threads), each child
/// adding one to a shared counter (<see cref="ForkSafety.Stress"/>, lesson 08). Prints forks done, children that hung
/// before their first step and were replaced, children left behind (must be 0), whether the counter is exact, and
/// forks per second.
/// </summary>
static class ForkStressCommand
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
        var result = ForkSafety.Stress(forks, threads);
        foreach (string message in result.ErrorMessages)
            Console.Error.WriteLine(message);
        Console.WriteLine(result);
        return result.Exact ? 0 : 1;
    }
}

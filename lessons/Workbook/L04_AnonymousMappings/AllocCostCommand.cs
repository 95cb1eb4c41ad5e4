using Lessons.L04_AnonymousMappings;

namespace Workbook.L04_AnonymousMappings;

/// <summary>
/// `alloc-cost`: lesson 04's measurement of allocate + touch + free through malloc/free and through mmap/munmap,
/// for 16 B … 64 MiB, as a table with the mmap/malloc ratio per size. Raw libc calls on both sides.
/// </summary>
static class AllocCostCommand
{
    public static int Execute(string[] args)
    {
        int budgetMs = 5000;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--budget-ms" when i + 1 < args.Length && int.TryParse(args[i + 1], out budgetMs) && budgetMs >= 0: i++; break;
                default:
                    Console.Error.WriteLine("usage: alloc-cost [--budget-ms MS (default 5000; every size still gets one timed cycle each way)]");
                    return 2;
            }
        }
        Console.WriteLine($"alloc-cost: allocate + write one byte per page + free, raw libc calls, budget {budgetMs} ms, " +
                          $"page {Lessons.Posix.SysConf.PageSize} B, transparent huge pages: {AnonymousMappings.TransparentHugePages()}");
        var started = DateTime.UtcNow;
        var costs = CostBenchmark.Run(TimeSpan.FromMilliseconds(budgetMs));
        Console.WriteLine(CostBenchmark.Header);
        foreach (var c in costs)
            Console.WriteLine(c);
        Console.WriteLine($"took {(DateTime.UtcNow - started).TotalSeconds:0.0} s");
        return 0;
    }
}

using Lessons.L04_AnonymousMappings;

namespace Workbook.L04_AnonymousMappings;

/// <summary>
/// `alloc-cost`: lesson 04's measurement of allocate + touch + free through malloc/free and through mmap/munmap,
/// for 16 B … 64 MiB, as a table with the mmap/malloc ratio per size. Raw libc calls on both sides.
/// </summary>
static class AllocCostCommand
{
    const string Usage = "usage: alloc-cost [--budget-ms MS (0 to 600000; default 5000; every size still gets one timed cycle each way)]";

    public static int Execute(string[] args) => CommandLine.Run("alloc-cost", Usage, args, Parse, Run);

    static int Parse(CommandLine.Arguments a)
    {
        int budgetMs = 5000;
        while (a.NextOption() is { } option)
            budgetMs = option == "--budget-ms" ? a.Number(option, 0, 600_000) : throw CommandLine.Arguments.Unknown(option);
        return budgetMs;
    }

    static int Run(int budgetMs)
    {
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

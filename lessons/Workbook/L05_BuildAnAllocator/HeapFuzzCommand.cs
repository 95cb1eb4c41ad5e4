using Lessons.Heap;

namespace Workbook.L05_BuildAnAllocator;

/// <summary>
/// `heap-fuzz`: lesson 05's allocators under random malloc/calloc/realloc/free and bad frees, with the heap checker
/// after every operation and each payload's fill byte verified. Runs every reference allocator, or the one named
/// (any allocator of the registry, the student's included). Prints one line per allocator; the exit code is 1 when
/// any violation is found.
/// </summary>
static class HeapFuzzCommand
{
    const string Usage = "usage: heap-fuzz [--ops N (0 to 10,000,000; default 100000)] [--allocator NAME (default: every reference allocator)]\n" +
                         "                 [--seed N (any whole number; default 1)] [--arena-mib M (1 to 1024; default 4)]";

    sealed record Options(int Ops, int Seed, int ArenaMib, IReadOnlyList<AllocatorInfo> Chosen);

    public static int Execute(string[] args)
    {
        var registry = MallocLabCommand.Registry();
        return CommandLine.Run("heap-fuzz", $"{Usage}\nallocators: {string.Join(", ", registry.Select(a => a.Name))}", args,
            a => Parse(a, registry), Run);
    }

    static Options Parse(CommandLine.Arguments a, IReadOnlyList<AllocatorInfo> registry)
    {
        int ops = 100_000, seed = 1, arenaMib = 4;
        IReadOnlyList<AllocatorInfo> chosen = Allocators.All;
        while (a.NextOption() is { } option)
        {
            switch (option)
            {
                case "--ops": ops = a.Number(option, 0, 10_000_000); break;
                case "--seed": seed = a.Number(option, int.MinValue, int.MaxValue); break;
                case "--arena-mib": arenaMib = a.Number(option, 1, 1024); break;
                case "--allocator":
                    string name = a.Value(option);
                    chosen = Allocators.Lookup(registry, name) is { } one
                        ? [one] : throw new UsageException($"no single allocator named '{name}'");
                    break;
                default: throw CommandLine.Arguments.Unknown(option);
            }
        }
        return new Options(ops, seed, arenaMib, chosen);
    }

    static int Run(Options o)
    {
        var (ops, seed, arenaMib, chosen) = o;
        Console.WriteLine($"heap-fuzz: ops={ops:N0} seed={seed} arena={arenaMib} MiB, heap checker after every operation");
        int violations = 0;
        foreach (var allocator in chosen)
        {
            try
            {
                var result = HeapFuzzer.Run(allocator.Create, ops, seed, (long)arenaMib << 20);
                Console.WriteLine(result);
                violations += result.Violations;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.WriteLine($"{allocator.Name,-16} threw {e.GetType().Name}: {e.Message}");
                violations++;
            }
        }
        Console.WriteLine($"violations: {violations}");
        return violations == 0 ? 0 : 1;
    }
}

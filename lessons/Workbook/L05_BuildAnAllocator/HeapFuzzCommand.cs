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
    const string Usage = "usage: heap-fuzz [--ops N (default 100000)] [--allocator NAME (default: every reference allocator)] [--seed N (default 1)] [--arena-mib M (default 4)]";

    public static int Execute(string[] args)
    {
        int ops = 100_000, seed = 1, arenaMib = 4;
        string? name = null;
        var registry = MallocLabCommand.Registry();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--ops" when i + 1 < args.Length && int.TryParse(args[i + 1], out ops) && ops >= 0: i++; break;
                case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], out seed): i++; break;
                case "--arena-mib" when i + 1 < args.Length && int.TryParse(args[i + 1], out arenaMib) && arenaMib is > 0 and <= 1024: i++; break;
                case "--allocator" when i + 1 < args.Length: name = args[++i]; break;
                default:
                    Console.Error.WriteLine(Usage);
                    Console.Error.WriteLine($"allocators: {string.Join(", ", registry.Select(a => a.Name))}");
                    return 2;
            }
        }
        IReadOnlyList<AllocatorInfo> chosen = Allocators.All;
        if (name is not null)
        {
            if (Allocators.Lookup(registry, name) is not { } one)
            {
                Console.Error.WriteLine(Usage);
                Console.Error.WriteLine($"no single allocator named '{name}'; allocators: {string.Join(", ", registry.Select(a => a.Name))}");
                return 2;
            }
            chosen = [one];
        }
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

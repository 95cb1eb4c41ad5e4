using Lessons.Heap;

namespace Workbook;

/// <summary>
/// `heap-fuzz`: lesson 05's reference allocators under random malloc/calloc/realloc/free and bad frees, with the heap
/// checker after every operation and each payload's fill byte verified. Prints one line per allocator; the exit
/// code is 1 when any violation is found.
/// </summary>
internal static class HeapFuzz
{
    const string Usage = "usage: heap-fuzz [--ops N (default 100000)] [--allocator NAME (default: all)] [--seed N (default 1)] [--arena-mib M (default 4)]";

    public static int Execute(string[] args)
    {
        int ops = 100_000, seed = 1, arenaMib = 4;
        string? name = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--ops" when i + 1 < args.Length && int.TryParse(args[i + 1], out ops) && ops >= 0: i++; break;
                case "--seed" when i + 1 < args.Length && int.TryParse(args[i + 1], out seed): i++; break;
                case "--arena-mib" when i + 1 < args.Length && int.TryParse(args[i + 1], out arenaMib) && arenaMib is > 0 and <= 1024: i++; break;
                case "--allocator" when i + 1 < args.Length && Allocators.All.ContainsKey(args[i + 1]): name = args[++i]; break;
                default:
                    Console.Error.WriteLine(Usage);
                    Console.Error.WriteLine($"allocators: {string.Join(", ", Allocators.All.Keys)}");
                    return 2;
            }
        }
        Console.WriteLine($"heap-fuzz: ops={ops:N0} seed={seed} arena={arenaMib} MiB, heap checker after every operation");
        int violations = 0;
        foreach (var allocator in name is null ? Allocators.All.Keys : [name])
        {
            var result = HeapFuzzer.Run(allocator, ops, seed, (long)arenaMib << 20);
            Console.WriteLine(result);
            violations += result.Violations;
        }
        Console.WriteLine($"violations: {violations}");
        return violations == 0 ? 0 : 1;
    }
}

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
                case "--allocator" when i + 1 < args.Length: name = args[++i]; break;
                default:
                    Console.Error.WriteLine(Usage);
                    Console.Error.WriteLine($"allocators: {string.Join(", ", Allocators.All.Keys)} (and the student's, from Exercises.dll)");
                    return 2;
            }
        }
        // a name that is not a reference allocator: any IAllocator malloc-lab finds (for example the student's)
        Func<Lessons.L03_ProgramBreak.SimulatedBreak, IAllocator>? other = null;
        if (name is not null && !Allocators.All.ContainsKey(name))
        {
            var found = MallocLabCommand.FindAllocators(Console.Error).Where(c => c.Create is not null && string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)).ToList();
            if (found.Count != 1)
            {
                Console.Error.WriteLine(Usage);
                Console.Error.WriteLine($"no single allocator named '{name}'; allocators: {string.Join(", ", MallocLabCommand.FindAllocators().Where(c => c.Create is not null).Select(c => c.Name))}");
                return 2;
            }
            other = found[0].Create;
        }
        Console.WriteLine($"heap-fuzz: ops={ops:N0} seed={seed} arena={arenaMib} MiB, heap checker after every operation");
        int violations = 0;
        foreach (var allocator in name is null ? Allocators.All.Keys : [name])
        {
            try
            {
                var result = other is null ? HeapFuzzer.Run(allocator, ops, seed, (long)arenaMib << 20) : HeapFuzzer.Run(other, ops, seed, (long)arenaMib << 20);
                Console.WriteLine(result);
                violations += result.Violations;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Console.WriteLine($"{allocator,-16} threw {e.GetType().Name}: {e.Message}");
                violations++;
            }
        }
        Console.WriteLine($"violations: {violations}");
        return violations == 0 ? 0 : 1;
    }
}

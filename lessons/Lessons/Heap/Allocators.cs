using Lessons.L03_ProgramBreak;

namespace Lessons.Heap;

/// <summary>Lesson 05's reference allocators by name, each made over an empty <see cref="SimulatedBreak"/>.</summary>
public static class Allocators
{
    /// <summary>Name → constructor, in the order of the lesson.</summary>
    public static IReadOnlyDictionary<string, Func<SimulatedBreak, IAllocator>> All { get; } =
        new Dictionary<string, Func<SimulatedBreak, IAllocator>>
        {
            ["naive"] = h => new NaiveAllocator(h),
            ["first-fit"] = h => new ImplicitListAllocator(h, FitPolicy.FirstFit),
            ["next-fit"] = h => new ImplicitListAllocator(h, FitPolicy.NextFit),
            ["best-fit"] = h => new ImplicitListAllocator(h, FitPolicy.BestFit),
            ["segregated"] = h => new SegregatedListAllocator(h),
            ["segregated-slabs"] = h => new SegregatedListAllocator(h, slabs: true),
            ["buddy"] = h => new BuddyAdapter(h),
        };

    /// <summary>The allocator called <paramref name="name"/> over <paramref name="heap"/>.</summary>
    /// <exception cref="ArgumentException">No allocator has that name.</exception>
    public static IAllocator Create(string name, SimulatedBreak heap) =>
        All.TryGetValue(name, out var make)
            ? make(heap)
            : throw new ArgumentException($"no allocator called '{name}'; there are: {string.Join(", ", All.Keys)}", nameof(name));
}

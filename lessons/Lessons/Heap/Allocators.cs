using System.Reflection;

namespace Lessons.Heap;

/// <summary>
/// Offers an <see cref="IAllocator"/> by name to <c>malloc-lab</c>, <c>heap-fuzz</c> and the notebooks. Put it on a
/// public class with a public <c>(SimulatedBreak heap)</c> constructor, or on a public static method that takes a
/// <see cref="SimulatedBreak"/> and returns an IAllocator (for one class run with several policies).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class AllocatorAttribute(string name, string description) : Attribute
{
    /// <summary>What <c>--allocator</c> takes ("first-fit", "student").</summary>
    public string Name { get; } = name;

    /// <summary>One line for <c>malloc-lab --list</c>.</summary>
    public string Description { get; } = description;

    /// <summary>Where it stands in a listing: the lesson's order, lowest first (then by name).</summary>
    public int Order { get; init; } = 1000;
}

/// <summary>An allocator <see cref="Allocators"/> found: its name, what it is, where it comes from, and how to make one.</summary>
public sealed record AllocatorInfo(string Name, string Description, Type Type, int Order, Func<SimulatedBreak, IAllocator> Factory)
{
    /// <summary>True when the attribute sits on the class itself, so the class name names this allocator alone.</summary>
    public bool MarkedOnClass => Type.GetCustomAttribute<AllocatorAttribute>()?.Name == Name;

    /// <summary>The assembly that defines it (Lessons for the reference allocators, Exercises for the student's).</summary>
    public string Assembly => Type.Assembly.GetName().Name ?? "?";

    /// <summary>A new allocator over <paramref name="heap"/>, which must be empty.</summary>
    public IAllocator Create(SimulatedBreak heap) => Factory(heap);

    public override string ToString() => $"{Name,-20} {Description} ({Type.FullName}, {Assembly}.dll)";
}

/// <summary>
/// The one registry of allocators: every <see cref="AllocatorAttribute"/> in this assembly (lesson 05's reference
/// allocators) and in the assemblies a caller names (the student's Exercises.dll), found the same way.
/// </summary>
public static class Allocators
{
    static readonly Lazy<IReadOnlyList<AllocatorInfo>> Reference = new(() => Scan(typeof(Allocators).Assembly));

    /// <summary>The reference allocators, in the order of the lesson.</summary>
    public static IReadOnlyList<AllocatorInfo> All => Reference.Value;

    /// <summary>The reference names, in the order of the lesson.</summary>
    public static IEnumerable<string> Names => All.Select(a => a.Name);

    /// <summary>The reference allocators, then those marked in <paramref name="assemblies"/>.</summary>
    public static IReadOnlyList<AllocatorInfo> Find(params Assembly[] assemblies) =>
        [.. All, .. assemblies.Where(a => a != typeof(Allocators).Assembly).SelectMany(Scan)];

    /// <summary>
    /// The allocators in <paramref name="found"/> called <paramref name="name"/> (case-insensitive): by their name, or by
    /// the class name or full class name of an allocator marked on its class.
    /// </summary>
    public static IReadOnlyList<AllocatorInfo> Matches(IEnumerable<AllocatorInfo> found, string name)
    {
        bool Is(string? s) => string.Equals(s, name, StringComparison.OrdinalIgnoreCase);
        return found.Where(a => Is(a.Name) || a.MarkedOnClass && (Is(a.Type.Name) || Is(a.Type.FullName))).ToList();
    }

    /// <summary>The one allocator <see cref="Matches"/> finds, or null when none or several match.</summary>
    public static AllocatorInfo? Lookup(IEnumerable<AllocatorInfo> found, string name) =>
        Matches(found, name) is [var one] ? one : null;

    /// <summary>A reference allocator over <paramref name="heap"/>.</summary>
    /// <exception cref="ArgumentException">No reference allocator has that name.</exception>
    public static IAllocator Create(string name, SimulatedBreak heap) =>
        (Lookup(All, name) ?? throw new ArgumentException(
            $"no allocator called '{name}'; there are: {string.Join(", ", Names)}", nameof(name))).Create(heap);

    /// <summary>Every marked class and static method of <paramref name="assembly"/>; a type that cannot load is skipped.</summary>
    static IReadOnlyList<AllocatorInfo> Scan(Assembly assembly)
    {
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.OfType<Type>().ToArray(); }
        var found = new List<AllocatorInfo>();
        foreach (var type in types)
        {
            if (type.GetCustomAttribute<AllocatorAttribute>() is { } onClass
                && type is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false }
                && typeof(IAllocator).IsAssignableFrom(type)
                && type.GetConstructor([typeof(SimulatedBreak)]) is { } ctor)
                found.Add(new AllocatorInfo(onClass.Name, onClass.Description, type, onClass.Order, heap => (IAllocator)Invoke(ctor, heap)));
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Static))
                if (method.GetCustomAttribute<AllocatorAttribute>() is { } onMethod
                    && typeof(IAllocator).IsAssignableFrom(method.ReturnType)
                    && method.GetParameters() is [{ ParameterType: var p }] && p == typeof(SimulatedBreak))
                    found.Add(new AllocatorInfo(onMethod.Name, onMethod.Description, type, onMethod.Order, heap => (IAllocator)Invoke(method, heap)));
        }
        return found.OrderBy(a => a.Order).ThenBy(a => a.Name, StringComparer.Ordinal).ToList();
    }

    // The constructor's or method's own exception, not reflection's wrapper (a student's constructor may throw).
    static object Invoke(MethodBase method, SimulatedBreak heap)
    {
        try { return method is ConstructorInfo c ? c.Invoke([heap]) : method.Invoke(null, [heap])!; }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}

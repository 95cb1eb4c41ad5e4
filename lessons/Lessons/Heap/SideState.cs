using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Lessons.Heap;

/// <summary>
/// What an allocator keeps outside its heap, measured the same way for every allocator (see <see cref="IAllocator"/>):
/// the managed memory reachable from its instance fields (arrays, collections, other objects; the
/// <see cref="SimulatedBreak"/> excluded), plus the allocator object's own fields beyond <see cref="FreeFieldBytes"/>.
/// Sizes are those of 64-bit .NET: a 16-byte object header, arrays with an 8-byte length, references of 8 bytes.
/// Static state is not measured; <see cref="StaticStateProblems"/> finds it. Hand-written: no served package
/// measures an object graph (the runtime's own heap walkers are for diagnostics tools, not in-process use).
/// </summary>
public static class SideState
{
    /// <summary>The allocator object's own fields up to this many bytes cost nothing: the lab's global scalars.</summary>
    public const int FreeFieldBytes = 256;

    const int ObjectHeader = 16, ArrayHeader = 24, Reference = 8;

    static readonly ConcurrentDictionary<Type, (int Size, bool HasReferences)> ValueTypes = new();
    static readonly ConcurrentDictionary<Type, FieldInfo[]> Fields = new();

    /// <summary>Bytes of state <paramref name="allocator"/> keeps outside <paramref name="heap"/> right now.</summary>
    public static long Bytes(object allocator, SimulatedBreak? heap)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        var walk = new Walk(heap);
        walk.Seen.Add(allocator); // its own fields are counted below; a field that points back at it adds nothing
        long own = 0;
        foreach (var f in InstanceFields(allocator.GetType()))
        {
            own += FieldSize(f.FieldType);
            walk.Field(f.FieldType, f.GetValue(allocator));
        }
        walk.Run();
        return walk.Total + Math.Max(0, own - FreeFieldBytes);
    }

    /// <summary>Static fields of <paramref name="type"/> that could hold state (anything but constants and read-only
    /// scalars or strings), each described with the rule it breaks; empty when there are none.</summary>
    public static IReadOnlyList<string> StaticStateProblems(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        var problems = new List<string>();
        for (var t = type; t is not null && t != typeof(object); t = t.BaseType)
            foreach (var f in t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (f.IsLiteral || (f.IsInitOnly && (f.FieldType.IsPrimitive || f.FieldType.IsEnum || f.FieldType == typeof(string)))) continue;
                problems.Add($"{t.Name}.{f.Name} ({f.FieldType.Name}) is a static field that can hold state, which is shared by every heap and " +
                    "not counted: make it an instance field (counted as side state) or a const");
            }
        return problems;
    }

    static FieldInfo[] InstanceFields(Type type) => Fields.GetOrAdd(type, t =>
    {
        var list = new List<FieldInfo>();
        for (var c = t; c is not null && c != typeof(object); c = c.BaseType)
            list.AddRange(c.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly));
        return [.. list];
    });

    static long FieldSize(Type type) => type.IsValueType ? ValueType(type).Size : Reference;

    static (int Size, bool HasReferences) ValueType(Type type) => ValueTypes.GetOrAdd(type, t =>
    {
        if (t.IsPointer || t.IsByRef) return (IntPtr.Size, false);
        int size = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;
        bool refs = (bool)typeof(RuntimeHelpers).GetMethod(nameof(RuntimeHelpers.IsReferenceOrContainsReferences))!.MakeGenericMethod(t).Invoke(null, null)!;
        return (size, refs);
    });

    sealed class Walk(SimulatedBreak? heap)
    {
        public readonly HashSet<object> Seen = new(ReferenceEqualityComparer.Instance);
        readonly Stack<object> pending = new();
        public long Total;

        // A field's value: a reference to follow, or a struct whose reference fields are followed.
        public void Field(Type declared, object? value)
        {
            if (value is null || declared.IsPointer || declared.IsFunctionPointer) return; // a pointer is a scalar (its box is new on every read)
            if (!declared.IsValueType) Push(value);
            else if (ValueType(declared).HasReferences)
                foreach (var f in InstanceFields(declared)) Field(f.FieldType, f.GetValue(value));
        }

        void Push(object o)
        {
            if (ReferenceEquals(o, heap) || o is Type or MemberInfo || !Seen.Add(o)) return;
            pending.Push(o);
        }

        public void Run()
        {
            while (pending.TryPop(out var o))
            {
                switch (o)
                {
                    case string s:
                        Total += ObjectHeader + 8 + 2L * s.Length;
                        break;
                    case Array a:
                        Array(a);
                        break;
                    default:
                    {
                        long size = ObjectHeader;
                        foreach (var f in InstanceFields(o.GetType()))
                        {
                            size += FieldSize(f.FieldType);
                            Field(f.FieldType, f.GetValue(o));
                        }
                        Total += Math.Max(24, (size + 7) & ~7L);
                        break;
                    }
                }
            }
        }

        void Array(Array a)
        {
            var element = a.GetType().GetElementType()!;
            long header = ArrayHeader + (a.Rank > 1 ? 8L * a.Rank : 0);
            if (!element.IsValueType)
            {
                Total += header + (long)Reference * a.LongLength;
                foreach (var item in a) if (item is not null) Push(item);
                return;
            }
            var (size, refs) = ValueType(element);
            Total += (header + (long)size * a.LongLength + 7) & ~7L;
            if (refs)
                foreach (var item in a) Field(element, item);
        }
    }
}

/// <summary>Bitmaps kept beside a heap: grown in steps of 1/8, so that they cost little unused room (side state is
/// counted in utilization) and copying stays amortized O(1) per bit.</summary>
static class SideBitmap
{
    /// <summary>A bitmap of 8 words, the smallest.</summary>
    public static ulong[] Create() => new ulong[8];

    /// <summary>Makes room for <paramref name="bits"/> bits.</summary>
    public static void Ensure(ref ulong[] words, long bits) => EnsureItems(ref words, (bits + 63) / 64);

    /// <summary>Makes room for <paramref name="needed"/> items (new ones are default).</summary>
    public static void EnsureItems<T>(ref T[] items, long needed)
    {
        if (needed <= items.Length) return;
        long grown = Math.Max(needed, items.Length + items.Length / 8);
        Array.Resize(ref items, (int)((grown + 7) & ~7L));
    }
}

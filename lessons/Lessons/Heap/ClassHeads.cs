using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lessons.Heap;

/// <summary>
/// The heads of up to <see cref="Classes"/> free lists, kept for the non-empty ones only: a bitmap of non-empty classes
/// finds the next class up in one instruction, and each non-empty class has a 32-bit head (an offset or a granule, as
/// the allocator chooses) in a short array, found through a byte per class. The heads of a small heap so cost a few
/// dozen bytes instead of 4 per class. A mutable struct: keep it in a field and call it there.
/// </summary>
struct ClassHeads
{
    /// <summary>How many classes there can be.</summary>
    public const int Classes = 128;
    const int Step = 8;

    uint[] heads;   // the heads of the non-empty classes, in any order
    PerClass slotOf; // per non-empty class, where its head is in heads
    int count;      // how many classes are non-empty
    ulong nonEmpty0, nonEmpty1;

    [InlineArray(Classes)]
    struct PerClass
    {
        byte first;
    }

    public ClassHeads() => heads = new uint[Step];

    /// <summary>How many classes are non-empty.</summary>
    public readonly int Count => count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool IsNonEmpty(int c) => ((c < 64 ? nonEmpty0 >> c : nonEmpty1 >> (c - 64)) & 1) != 0;

    /// <summary>The head of non-empty class c (no checks: c &lt; Classes and non-empty).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref uint Head(int c) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(heads), Unsafe.Add(ref slotOf[0], c));

    /// <summary>Class c (empty) gets a list whose head is <paramref name="head"/>.</summary>
    public void Add(int c, uint head)
    {
        if (count == heads.Length) Array.Resize(ref heads, count + Step);
        heads[count] = head;
        slotOf[c] = (byte)count++;
        if (c < 64) nonEmpty0 |= 1UL << c; else nonEmpty1 |= 1UL << (c - 64);
    }

    /// <summary>Class c is empty now. The last slot's head moves into its slot: <paramref name="classOf"/> says the class
    /// of a head.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Drop<T>(int c, T classOf) where T : struct, IHeadClass
    {
        int slot = slotOf[c], last = --count;
        if (slot != last)
        {
            uint moved = heads[last];
            heads[slot] = moved;
            slotOf[classOf.Of(moved)] = (byte)slot;
        }
        if (c < 64) nonEmpty0 &= ~(1UL << c); else nonEmpty1 &= ~(1UL << (c - 64));
    }

    /// <summary>The first non-empty class at or above c, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly int NextNonEmpty(int c)
    {
        if (c < 64)
        {
            ulong m = nonEmpty0 & (~0UL << c);
            if (m != 0) return BitOperations.TrailingZeroCount(m);
            c = 64;
        }
        ulong m1 = nonEmpty1 & (~0UL << (c - 64));
        return m1 != 0 ? 64 + BitOperations.TrailingZeroCount(m1) : -1;
    }

    /// <summary>The slot of class c's head, for a checker.</summary>
    public int SlotOf(int c) => slotOf[c];
}

/// <summary>The class of a list head, for <see cref="ClassHeads.Drop"/> (a struct, so the call is inlined).</summary>
interface IHeadClass
{
    int Of(uint head);
}

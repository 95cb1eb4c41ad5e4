namespace Lessons.Heap;

/// <summary>
/// The contract of lesson 05's allocators (the CS:APP malloc lab's mm.c, in C#). An allocator manages the memory
/// of one <see cref="SimulatedBreak"/>, given to its constructor, and gets more only by moving
/// that break. Semantics follow C and glibc:
/// <list type="bullet">
/// <item>every pointer returned is 16-byte aligned and lies inside [HeapLo, Break);</item>
/// <item><c>Malloc(0)</c> returns 0 (NULL), as the malloc lab's mm_malloc does (glibc would return a unique pointer);</item>
/// <item>out of memory (the simulated break cannot grow far enough) returns 0, like C's NULL, and changes nothing;</item>
/// <item><c>Calloc</c> zeroes the block and returns 0 when count × size overflows;</item>
/// <item><c>Realloc(0, n)</c> is <c>Malloc(n)</c>; <c>Realloc(p, 0)</c> frees p and returns 0 (glibc's choice; C23 leaves it undefined);
/// otherwise the first min(old, new) bytes are kept, and on failure 0 is returned with p untouched;</item>
/// <item><c>Free(0)</c> does nothing; freeing a pointer that is not a live block (never returned, already
/// freed, or pointing inside a block) throws <see cref="Posix.HeapMisuseException"/> and changes nothing;</item>
/// <item>a negative size throws ArgumentOutOfRangeException.</item>
/// </list>
/// <b>State outside the heap</b> — one rule for the students' allocators and the reference ones alike:
/// <list type="bullet">
/// <item>an allocator may keep fields and side tables (arrays, collections, objects: list heads, a bitmap of live
/// blocks, a hash set of pointers). They are counted like heap bytes: utilization divides the peak payload by the heap's
/// high-water mark <i>plus</i> the most side state, which <see cref="SideState"/> measures during the checking pass (the
/// managed memory reachable from the instance fields, and the object's own fields past
/// <see cref="SideState.FreeFieldBytes"/> bytes, the lab's "global scalars");</item>
/// <item>not allowed, because it cannot be counted: static fields that hold state (shared by every heap;
/// <see cref="SideState.StaticStateProblems"/> finds them; constants and read-only scalars are fine), and memory from
/// anywhere but the simulated heap and the managed heap (NativeMemory, Marshal.AllocHGlobal, mmap).</item>
/// </list>
/// So a bitmap with a bit per 16 bytes of heap (which makes checking a free O(1)) costs 1/128 of the heap, under 1 % of
/// utilization, for every allocator that keeps one; walking the heap instead costs nothing but makes free O(n). Between
/// the two, "segregated-slabs" keeps a byte per KiB of heap (where the first block of each KiB starts) and walks at
/// most one KiB of headers. "headerless" keeps a bit per 16 bytes (where blocks start) instead of any header.
/// </summary>
public interface IAllocator
{
    /// <summary>A short name for tables ("first-fit", "buddy", …).</summary>
    string Name { get; }

    nint Malloc(long size);

    nint Calloc(long count, long size);

    nint Realloc(nint pointer, long size);

    void Free(nint pointer);
}

/// <summary>Argument rules shared by the reference allocators.</summary>
static class AllocatorRules
{
    /// <summary>count × size for calloc, or false when it overflows or exceeds <paramref name="max"/> (calloc then returns NULL).</summary>
    public static bool TryCallocSize(long count, long size, long max, out long total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ulong high = Math.BigMul((ulong)count, (ulong)size, out ulong product);
        total = (long)product;
        return high == 0 && product <= (ulong)max;
    }
}

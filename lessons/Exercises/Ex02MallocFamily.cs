using Lessons.Heap;
using Lessons.L02_MallocFamily;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 02 — malloc, calloc, realloc, free. Write these three functions; `dotnet test tests/Exercises.Tests --filter Lesson=02`
/// grades them. Lesson 02 shows everything they need: <see cref="LibcHeap"/>, <see cref="CheckingHeap"/> and
/// <see cref="MallocFamily.Concatenate"/>.
/// </summary>
public static class Ex02MallocFamily
{
    /// <summary>
    /// Exercise 02.1: xmalloc0 — <paramref name="size"/> bytes of zeroed memory from libc, through <see cref="LibcHeap"/> (so
    /// the caller frees the result with <c>LibcHeap.Free</c>). Never returns 0: when libc cannot give the memory it throws
    /// <see cref="PosixException"/> (ENOMEM), where C's xmalloc0 would print a message and exit. Size 0 returns a unique
    /// pointer that can be freed, as glibc does. A negative size throws ArgumentOutOfRangeException (paramName "size")
    /// before libc is called. Every byte of the block is 0, even when libc hands back memory that was used before.
    /// </summary>
    public static nint Xmalloc0(long size)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return LibcHeap.Calloc(1, size);
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 02.2: a <c>concatenate4</c> that does not leak. a, b, c and d are C strings (UTF-8 bytes and a 0 byte)
    /// on <paramref name="heap"/>; the result is a new C string on the same heap holding a, b, c and d one after the other,
    /// which the caller owns. The arguments stay as they are (the caller frees them). This is the course's version, which
    /// leaks its two intermediate results:
    /// <code>
    /// return MallocFamily.Concatenate(heap, MallocFamily.Concatenate(heap, a, b), MallocFamily.Concatenate(heap, c, d));
    /// </code>
    /// Fix it: after the caller frees the result and the arguments, the heap's report must show 0 bytes in use.
    /// </summary>
    public static nint Concatenate4(CheckingHeap heap, nint a, nint b, nint c, nint d)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(heap);
        nint ab = MallocFamily.Concatenate(heap, a, b);
        try
        {
            nint cd = MallocFamily.Concatenate(heap, c, d);
            try { return MallocFamily.Concatenate(heap, ab, cd); }
            finally { heap.Free(cd); }
        }
        finally { heap.Free(ab); }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 02.3: grows (or shrinks) a buffer on <paramref name="heap"/> to <paramref name="newSize"/> bytes with
    /// <see cref="CheckingHeap.TryRealloc"/>, which behaves like C's realloc: it returns 0 when there is no memory and then
    /// leaves the old block alone. On success <paramref name="buffer"/> becomes the new block, the first
    /// min(old size, newSize) bytes are the old contents, every byte past the old size is <paramref name="fill"/>, and the
    /// result is true. When the heap has no memory for newSize bytes, the result is false and <paramref name="buffer"/>
    /// still points to the old, unchanged, still allocated block (the classic bug <c>p = realloc(p, n)</c> loses it).
    /// A newSize of 0 frees the block, sets <paramref name="buffer"/> to 0 and returns true (do not leave it to realloc:
    /// glibc's realloc(p, 0) frees and returns NULL, just as it returns NULL on failure, and C23 makes it undefined).
    /// A negative newSize throws ArgumentOutOfRangeException (paramName "newSize") and changes nothing.
    /// </summary>
    public static bool TryGrow(CheckingHeap heap, ref nint buffer, long newSize, byte fill)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(heap);
        ArgumentOutOfRangeException.ThrowIfNegative(newSize);
        if (newSize == 0)
        {
            heap.Free(buffer);
            buffer = 0;
            return true;
        }
        long oldSize = heap.SizeOf(buffer);
        nint grown = heap.TryRealloc(buffer, newSize);
        if (grown == 0) return false;
        buffer = grown;
        if (newSize > oldSize) heap.Span(grown)[(int)oldSize..].Fill(fill);
        return true;
        // END SOLUTION
    }
}

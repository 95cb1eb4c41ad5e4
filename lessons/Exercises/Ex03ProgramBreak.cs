using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 03 — a bump allocator on a program break. Write the bodies of <see cref="Malloc"/>, <see cref="BlockCapacity"/>,
/// <see cref="Free"/> and <see cref="Realloc"/>; `dotnet test tests/Exercises.Tests --filter Lesson=03` grades them. The break is a
/// <see cref="SimulatedBreak"/> (lesson 03): <c>Heap.Sbrk(n)</c> moves it and returns the old break, and refuses to
/// pass <c>Heap.MaxSize</c> with a PosixException (ENOMEM) that changes nothing.
/// <para>
/// The heap layout (your code must keep to it; the tests read it): blocks lie one after another from
/// <c>Heap.HeapLo</c> up to the break, with no gaps. A block is a <see cref="HeaderSize"/>-byte header followed by
/// its payload; the pointer handed out is the payload's address. The header's first 8 bytes hold the payload's
/// capacity in bytes (a long: the request rounded up to a multiple of <see cref="Alignment"/>); the other 8 bytes
/// are unused. So the first header is at HeapLo, and the header after a block with payload p and capacity c is at
/// p + c. Since HeapLo is page-aligned and every size is a multiple of 16, every payload is 16-byte aligned.
/// Read and write the header with <c>Marshal.ReadInt64</c>/<c>Marshal.WriteInt64</c>.
/// </para>
/// <para>
/// A bump allocator keeps no free list. Only the top block (the one that ends at the break) can be given back,
/// by lowering the break; a block below the top stays where it is for good, counted as used, and freeing it
/// does nothing and records nothing (so a second free of such a block is not detected either). That waste is the
/// price of an allocator this simple.
/// </para>
/// </summary>
public sealed class BumpAllocator
{
    /// <summary>Bytes of header in front of each payload.</summary>
    public const int HeaderSize = 16;

    /// <summary>Every payload address and capacity is a multiple of this.</summary>
    public const int Alignment = 16;

    /// <summary>Manages <paramref name="heap"/>, which must be empty (its break at HeapLo); the allocator then owns the break.</summary>
    public BumpAllocator(SimulatedBreak heap)
    {
        ArgumentNullException.ThrowIfNull(heap);
        if (heap.Size != 0)
            throw new ArgumentException($"the heap must be empty; its break is {heap.Size} bytes above HeapLo", nameof(heap));
        Heap = heap;
    }

    /// <summary>The simulated break this allocator moves.</summary>
    public SimulatedBreak Heap { get; }

    /// <summary>
    /// Exercise 03.1 — malloc: returns the address of a new block of at least <paramref name="size"/> bytes at the
    /// top of the heap, 16-byte aligned. It grows the break by exactly what the block needs: <see cref="HeaderSize"/>
    /// plus <paramref name="size"/> rounded up to a multiple of <see cref="Alignment"/>, and writes the header.
    /// <c>Malloc(0)</c> returns 0 (NULL) and changes nothing (C allows that answer).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">size is negative; nothing changes.</exception>
    /// <exception cref="PosixException">ENOMEM when the block does not fit below <c>Heap.MaxSize</c> (also for sizes
    /// near long.MaxValue: mind overflow while rounding); nothing changes.</exception>
    public nint Malloc(long size)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0) return 0;
        if (size > Heap.MaxSize - Heap.Size - HeaderSize)
            throw new PosixException($"malloc(size={size})", (int)Errno.ENOMEM,
                $"{Heap.MaxSize - Heap.Size} bytes are left below the heap's maximum of {Heap.MaxSize}");
        long capacity = (size + Alignment - 1) & ~(long)(Alignment - 1);
        nint header = Heap.Sbrk(HeaderSize + capacity); // throws ENOMEM, changing nothing, if it does not fit
        Marshal.WriteInt64(header, capacity);
        return header + HeaderSize;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 03.3 — free: gives back a block from <see cref="Malloc"/> or <see cref="Realloc"/>. If it is the top
    /// block, the break goes down to the block's header (the heap shrinks by header and capacity). Any other live
    /// block: nothing happens (see the class comment). <c>Free(0)</c> does nothing, as in C.
    /// </summary>
    /// <exception cref="HeapMisuseException">p is not the payload address of a block in the heap (a pointer into the
    /// middle of a block, outside the heap, or a top block freed already, which now lies above the break); nothing changes.</exception>
    public void Free(nint p)
    {
        // BEGIN SOLUTION
        if (p == 0) return;
        long capacity = BlockCapacity(p);
        if (p + (nint)capacity == Heap.Break)
            Heap.Sbrk(-(HeaderSize + capacity));
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 03.4 — realloc: resizes the block at <paramref name="p"/> to hold <paramref name="size"/> bytes and
    /// returns its (maybe new) address; the first min(old capacity, size) bytes keep their contents.
    /// If the block is the top one it is resized in place: the break moves by the change in capacity and the same
    /// address is returned. Otherwise a new block is made with <see cref="Malloc"/>, the bytes are copied, and the
    /// old block is freed with <see cref="Free"/>. As in C: <c>Realloc(0, n)</c> is <c>Malloc(n)</c>;
    /// <c>Realloc(p, 0)</c> frees p and returns 0.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">size is negative; nothing changes.</exception>
    /// <exception cref="HeapMisuseException">p is not a block's payload address (as for Free); nothing changes.</exception>
    /// <exception cref="PosixException">ENOMEM when the new size does not fit; the old block is unchanged and still yours.</exception>
    public nint Realloc(nint p, long size)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (p == 0) return Malloc(size);
        long capacity = BlockCapacity(p);
        if (size == 0)
        {
            Free(p);
            return 0;
        }
        if (p + (nint)capacity == Heap.Break) // the top block: move the break
        {
            if (size > Heap.MaxSize - (p - Heap.HeapLo))
                throw new PosixException($"realloc(ptr=0x{p:x}, size={size})", (int)Errno.ENOMEM, $"the heap's maximum is {Heap.MaxSize} bytes; the block is unchanged");
            long newCapacity = (size + Alignment - 1) & ~(long)(Alignment - 1);
            Heap.Sbrk(newCapacity - capacity);
            Marshal.WriteInt64(p - HeaderSize, newCapacity);
            return p;
        }
        nint q = Malloc(size); // throws, changing nothing, when it does not fit
        unsafe
        {
            Buffer.MemoryCopy((void*)p, (void*)q, size, Math.Min(capacity, size));
        }
        Free(p);
        return q;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 03.2 — the capacity of the block whose payload starts at <paramref name="p"/>, read from its
    /// header (a block freed below the top is still there, so it counts). Find the block by walking the headers from HeapLo to the break (a bump heap has no other index), so
    /// that a pointer that is not a payload address is recognised. Free and Realloc use it to check their pointer.
    /// </summary>
    /// <exception cref="HeapMisuseException">No block's payload starts at p (outside [HeapLo, break), into the middle of
    /// a block, or at or above the break); the message names the pointer and the heap's range.</exception>
    public long BlockCapacity(nint p)
    {
        // BEGIN SOLUTION
        nint at = Heap.HeapLo + HeaderSize, end = Heap.Break;
        while (at < end)
        {
            long capacity = Marshal.ReadInt64(at - HeaderSize);
            if (at == p) return capacity;
            if (at > p) break;
            at += (nint)capacity + HeaderSize;
        }
        throw new HeapMisuseException($"0x{p:x} is not a block of this heap: no block's payload starts there " +
            $"(the heap is 0x{Heap.HeapLo:x}..0x{end:x})");
        // END SOLUTION
    }
}

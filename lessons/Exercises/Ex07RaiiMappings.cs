using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 07 — an owning mapped box: one value of type <typeparamref name="T"/> constructed in a fresh anonymous
/// mapping of its own, released exactly once. It is what lesson 07's <c>Mapped&lt;T&gt;</c> is, written by hand without a
/// SafeHandle, so you see the pieces a SafeHandle gives you: the release in Dispose, the finalizer as a safety net,
/// and an owner that can be released only once. Write the bodies of <see cref="MapAndConstruct"/>,
/// <see cref="Value"/>, <see cref="Address"/>, <see cref="Dispose"/> and <see cref="Release"/>;
/// `dotnet test tests/Exercises.Tests --filter Lesson=07` grades them.
/// <para>
/// The state is one field, <c>address</c>: the mapping's first byte while the box owns it, 0 once it is released
/// (and also when the constructor failed, since the finalizer runs even for an object whose constructor threw).
/// The box is the only owner of its region: map and unmap through calls that work on bare addresses and own
/// nothing themselves. If some other object owned the region and the box kept only its address, that object's own
/// clean-up would unmap the memory under the box.
/// </para>
/// </summary>
/// <typeparam name="T">An unmanaged type: plain bytes, no references the garbage collector would have to find.</typeparam>
public sealed class MappedBox<T> : IDisposable where T : unmanaged
{
    /// <summary>The mapping's first byte while this box owns it; 0 once released.</summary>
    nint address;

    /// <summary>Maps a fresh region for one <typeparamref name="T"/> and constructs <paramref name="value"/> in it.</summary>
    /// <exception cref="PosixException">mmap failed; nothing stays mapped.</exception>
    public MappedBox(in T value) => address = MapAndConstruct(in value);

    /// <summary>The size of the value in bytes (<c>sizeof(T)</c>).</summary>
    public static int Size => Unsafe.SizeOf<T>();

    /// <summary>True once the box was disposed (or finalized): it owns nothing any more.</summary>
    public bool IsDisposed => Volatile.Read(ref address) == 0;

    /// <summary>
    /// Exercise 07.1 — the placement-new step: maps <see cref="Size"/> bytes of fresh memory that only this process
    /// sees (private, anonymous, no file), readable and writable, copies
    /// <paramref name="value"/> to the first byte of the mapping, and returns the mapping's address. The kernel rounds
    /// the length up to whole pages, so a value larger than a page gets several. Should anything fail after the mmap,
    /// unmap before the exception leaves (the caller has no address to release yet).
    /// </summary>
    /// <exception cref="PosixException">the mapping failed (let that exception through unchanged).</exception>
    static nint MapAndConstruct(in T value)
    {
        // BEGIN SOLUTION
        nint p = Mman.MapRaw(Size, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS);
        try
        {
            unsafe
            {
                Unsafe.WriteUnaligned((void*)p, value);
            }
            return p;
        }
        catch
        {
            Mman.Unmap(p, Size);
            throw;
        }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 07.2 — the value, by reference: <c>box.Value = x</c> and <c>ref var v = ref box.Value</c> read and write
    /// the mapping itself, never a copy.
    /// </summary>
    /// <exception cref="ObjectDisposedException">the box was disposed.</exception>
    public unsafe ref T Value
    {
        get
        {
            // BEGIN SOLUTION
            nint p = Volatile.Read(ref address);
            ObjectDisposedException.ThrowIf(p == 0, this);
            return ref Unsafe.AsRef<T>((void*)p);
            // END SOLUTION
        }
    }

    /// <summary>Exercise 07.3 — the mapping's first byte, where the value lives (page-aligned).</summary>
    /// <exception cref="ObjectDisposedException">the box was disposed.</exception>
    public nint Address
    {
        get
        {
            // BEGIN SOLUTION
            nint p = Volatile.Read(ref address);
            ObjectDisposedException.ThrowIf(p == 0, this);
            return p;
            // END SOLUTION
        }
    }

    /// <summary>
    /// Exercise 07.4 — unmaps the region now, through <see cref="Release"/>, and tells the garbage collector that the
    /// finalizer has nothing left to do for this box. A second Dispose does nothing: above all it
    /// must not unmap again, because by then the kernel may have handed the same address to another mapping.
    /// </summary>
    public void Dispose()
    {
        // BEGIN SOLUTION
        Release();
        GC.SuppressFinalize(this);
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 07.5 — the one place that ends ownership, used by <see cref="Dispose"/> and by the finalizer: takes the
    /// address out of the box, leaving 0, and unmaps <see cref="Size"/> bytes there; returns true when it unmapped,
    /// false when the box owned nothing (released already, or the constructor failed). Taking the address and
    /// leaving 0 must be one indivisible step, so that two threads disposing at once cannot both unmap.
    /// </summary>
    bool Release()
    {
        // BEGIN SOLUTION
        nint p = Interlocked.Exchange(ref address, 0);
        if (p == 0) return false;
        Mman.Unmap(p, Size);
        return true;
        // END SOLUTION
    }

    /// <summary>
    /// The safety net for a box nobody disposed: when the garbage collector finds it unreachable, the finalizer thread
    /// releases the mapping. It must never throw (an exception on the finalizer thread ends the process), hence the catch.
    /// </summary>
    ~MappedBox()
    {
        try
        {
            Release();
        }
        catch
        {
            // nothing sensible is left to do on the finalizer thread
        }
    }

    public override string ToString() =>
        IsDisposed ? $"MappedBox<{typeof(T).Name}> (released)" : $"MappedBox<{typeof(T).Name}> at 0x{address:x}";
}

using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.L07_RaiiMappings;

/// <summary>
/// A value of type <typeparamref name="T"/> living in an anonymous mapping of its own: C++'s
/// <c>unique_ptr&lt;T, mmap_deleter&gt;</c> made by placement new, written in C#. The memory belongs to a
/// <see cref="Mapping"/> (a SafeHandle whose release is munmap, the "custom deleter"); <see cref="Dispose"/> — or a
/// <c>using</c> — unmaps it, and the handle's finalizer does so as a safety net when nobody disposed it.
/// <para>
/// <c>T : unmanaged</c> is what makes this sound: the value is plain bytes with no reference to a managed object
/// (the garbage collector neither scans nor updates memory it did not allocate).
/// </para>
/// </summary>
public sealed class Mapped<T> : IDisposable where T : unmanaged
{
    readonly Mapping mapping;

    /// <summary>Maps <c>sizeof(T)</c> bytes (a whole page, as the kernel rounds) read-write and private, and
    /// copies <paramref name="value"/> into them: the placement-new step.</summary>
    /// <exception cref="PosixException">mmap failed (the message names the call and errno).</exception>
    public Mapped(in T value)
    {
        mapping = Mman.MapAnonymous(Size);
        try
        {
            Unsafe.WriteUnaligned(ref mapping.Span[0], value); // construct the value in place, in the mapping
        }
        catch
        {
            mapping.Dispose(); // cannot happen for an unmanaged copy, but an owner never leaks on a failed constructor
            throw;
        }
    }

    /// <summary>The same as <c>new Mapped&lt;T&gt;(value)</c>.</summary>
    public static Mapped<T> Create(in T value) => new(value);

    /// <summary>The size of the value in bytes (<c>sizeof(T)</c>); the mapping itself is a whole page.</summary>
    public static int Size => Unsafe.SizeOf<T>();

    /// <summary>The value, by reference: reading and writing it touches the mapping, never a copy.
    /// Throws ObjectDisposedException once the mapping is released. A ref taken before Dispose must not be used
    /// after it: the language cannot see that the memory went away.</summary>
    public unsafe ref T Value => ref Unsafe.AsRef<T>((void*)mapping.Address);

    /// <summary>The first byte of the mapping, where the value lives (page-aligned).</summary>
    public nint Address => mapping.Address;

    /// <summary>The value's bytes as they lie in the mapping.</summary>
    public Span<byte> Bytes => mapping.Span[..Size];

    /// <summary>The owning handle (a SafeHandle); disposing either one unmaps.</summary>
    public Mapping Mapping => mapping;

    /// <summary>True once the mapping is unmapped.</summary>
    public bool IsDisposed => mapping.IsClosed;

    /// <summary>munmap; harmless when repeated.</summary>
    public void Dispose() => mapping.Dispose();

    public override string ToString() =>
        IsDisposed ? $"Mapped<{typeof(T).Name}> (unmapped)" : $"Mapped<{typeof(T).Name}> at 0x{Address:x} ({Size} bytes): {Value}";
}

using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// A program break over a private mmap'd arena, like the CS:APP malloc lab's memlib: the "heap" is
/// [<see cref="HeapLo"/>, <see cref="Break"/>) and <see cref="Sbrk"/> moves its end. Exercises use this instead of
/// the real break (<see cref="ProgramBreak"/>), which belongs to glibc's malloc and must never be shrunk below it.
/// Not thread-safe.
/// </summary>
public sealed class SimulatedBreak : IDisposable
{
    readonly Mapping arena;
    long size;
    bool disposed;

    /// <summary>Reserves an arena of <paramref name="maxSize"/> bytes, rounded up to the page size; the heap starts empty.</summary>
    /// <exception cref="ArgumentOutOfRangeException">maxSize is zero or negative, or within a page of long.MaxValue.</exception>
    public SimulatedBreak(long maxSize)
    {
        if (maxSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize,
                "the maximum heap size must be a positive number of bytes");
        long page = SysConf.PageSize;
        if (maxSize > long.MaxValue - page)
            throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "the maximum heap size is too large to round up to a page");
        long rounded = (maxSize + page - 1) / page * page;
        arena = Mman.MapAnonymous(rounded);
        MaxSize = rounded;
    }

    /// <summary>The first byte of the heap (page-aligned), memlib's mem_heap_lo.</summary>
    public nint HeapLo { get { ThrowIfDisposed(); return arena.Address; } }

    /// <summary>The last byte of the heap in use, <c>Break - 1</c> (memlib's mem_heap_hi; <c>HeapLo - 1</c> when empty).</summary>
    public nint HeapHi => Break - 1;

    /// <summary>The current break: one past the last byte in use (sbrk(0)).</summary>
    public nint Break => HeapLo + (nint)size;

    /// <summary>Bytes in use: <c>Break - HeapLo</c>.</summary>
    public long Size { get { ThrowIfDisposed(); return size; } }

    /// <summary>The most the heap can grow to (the arena size, a multiple of the page size).</summary>
    public long MaxSize { get; }

    /// <summary>The bytes in use (heaps up to 2 GiB).</summary>
    public unsafe Span<byte> Span => new((void*)HeapLo, checked((int)Size));

    /// <summary>
    /// sbrk(increment): moves the break by <paramref name="increment"/> bytes (negative shrinks) and returns the OLD break.
    /// Bytes given back are zeroed, so growing again yields zeroed memory as fresh pages from the kernel would.
    /// On failure nothing changes.
    /// </summary>
    /// <exception cref="PosixException">ENOMEM past <see cref="MaxSize"/>; EINVAL below <see cref="HeapLo"/>.</exception>
    public nint Sbrk(long increment)
    {
        nint old = Break;
        MoveTo(size + increment, increment > 0 && size + increment < size, Call.Sbrk, increment);
        return old;
    }

    /// <summary>brk(address): sets the break to <paramref name="address"/>; same limits as <see cref="Sbrk"/>.</summary>
    public void Brk(nint address)
    {
        nint lo = HeapLo;
        MoveTo((long)address - (long)lo, false, Call.Brk, address);
    }

    /// <summary>Empties the heap: the break goes back to <see cref="HeapLo"/> (the bytes are zeroed).</summary>
    public void Reset() => MoveTo(0, false, Call.Reset, 0);

    enum Call { Sbrk, Brk, Reset }

    // The call as the error message names it (formatted only on failure: allocators move the break often).
    static string Describe(Call call, long argument) => call switch
    {
        Call.Sbrk => $"sbrk(increment={argument})",
        Call.Brk => $"brk(addr={CFormat.Hex(argument)})",
        _ => "reset",
    };

    void MoveTo(long target, bool overflowed, Call kind, long argument)
    {
        ThrowIfDisposed();
        if (overflowed || target > MaxSize)
            throw new PosixException(Describe(kind, argument), (int)Errno.ENOMEM,
                $"the heap would grow to {(overflowed ? "more than long.MaxValue" : target.ToString())} bytes, past its maximum of {MaxSize}");
        if (target < 0)
            throw new PosixException(Describe(kind, argument), (int)Errno.EINVAL,
                $"would move the break below the start of the heap ({CFormat.Hex(HeapLo)}); {size} bytes are in use");
        if (target < size)
            Clear(target, size - target);
        size = target;
    }

    unsafe void Clear(long offset, long length)
    {
        byte* p = (byte*)arena.Address + offset;
        while (length > 0)
        {
            uint chunk = (uint)Math.Min(length, 1 << 30);
            Unsafe.InitBlockUnaligned(p, 0, chunk);
            p += chunk;
            length -= chunk;
        }
    }

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <summary>Unmaps the arena; every member but <see cref="MaxSize"/> throws ObjectDisposedException afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        arena.Dispose();
    }

    public override string ToString() =>
        disposed ? "SimulatedBreak (disposed)" : $"SimulatedBreak heap {CFormat.Hex(HeapLo)}..{CFormat.Hex(Break)} ({size} of {MaxSize} bytes)";
}

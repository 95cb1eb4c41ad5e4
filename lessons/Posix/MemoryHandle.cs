using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>Memory this process can address until the handle is released (a mapping, an attached segment).</summary>
public abstract class MemoryHandle : SafeHandle
{
    private protected MemoryHandle(nint address, long length) : base(Libc.MAP_FAILED, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    /// <summary>The first byte (page-aligned).</summary>
    public nint Address => IsClosed ? throw new ObjectDisposedException(GetType().Name, $"the memory was released: {this}") : handle;

    /// <summary>How many bytes were asked for; the kernel works in whole pages.</summary>
    public long Length { get; private protected set; }

    public override bool IsInvalid => handle == Libc.MAP_FAILED || handle == 0;

    /// <summary>The bytes (up to 2 GiB).</summary>
    public unsafe Span<byte> Span => new((void*)Address, checked((int)Length));
}

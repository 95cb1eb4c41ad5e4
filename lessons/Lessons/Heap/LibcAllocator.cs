using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>libc's malloc/calloc/realloc/free as an <see cref="IAllocator"/> (raw calls, no bookkeeping), for comparison.
/// It has no simulated heap, so the driver neither checks bounds nor computes a utilization for it.</summary>
sealed class LibcAllocator : IAllocator
{
    public string Name => MallocLab.LibcName;

    public nint Malloc(long size) => Unchecked.Malloc(Checked.Size("malloc", nameof(size), size));

    public nint Calloc(long count, long size) =>
        Unchecked.Calloc(Checked.Size("calloc", nameof(count), count), Checked.Size("calloc", nameof(size), size));

    public nint Realloc(nint pointer, long size) => Unchecked.Realloc(pointer, Checked.Size("realloc", nameof(size), size));

    public void Free(nint pointer) => Unchecked.Free(pointer);
}

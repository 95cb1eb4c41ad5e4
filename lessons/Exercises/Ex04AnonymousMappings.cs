using Lessons.Posix;

namespace Exercises;

/// <summary>Where glibc's malloc gets a block from.</summary>
public enum AllocationSource
{
    /// <summary>Carved from an arena (the [heap] of the main thread, or a thread arena).</summary>
    Heap,
    /// <summary>A mapping of its own (mmap), returned to the kernel by free (munmap).</summary>
    Mapping,
}

/// <summary>
/// Exercise 04 — anonymous mappings. Write these four functions; `dotnet test tests/Exercises.Tests --filter Lesson=04`
/// grades them. Lesson 04's notebook shows each rule on the running machine.
/// </summary>
public static class Ex04AnonymousMappings
{
    /// <summary>
    /// Exercise 04.1: the number of bytes the kernel really maps for an mmap of <paramref name="size"/> bytes:
    /// <paramref name="size"/> rounded up to a whole number of pages (42 with 4096-byte pages is 4096; 4096 is 4096;
    /// 4097 is 8192). A size of 0 is refused as mmap refuses it: throw the workbook's <see cref="PosixException"/> with
    /// errno EINVAL (<c>new PosixException("mmap(length=0)", (int)Errno.EINVAL)</c>), as <c>Mman.MapAnonymous(0)</c> does.
    /// <paramref name="pageSize"/> must be a positive power of two, else ArgumentOutOfRangeException.
    /// A negative <paramref name="size"/> is an ArgumentOutOfRangeException. When the rounded size does not fit in a
    /// long (a size within one page of long.MaxValue), throw OverflowException.
    /// </summary>
    public static long RoundToPages(long size, long pageSize)
    {
        // BEGIN SOLUTION
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "the page size must be a positive power of two");
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (size == 0)
            throw new PosixException("mmap(length=0)", (int)Errno.EINVAL, "mmap maps at least one page");
        long rest = size & (pageSize - 1);
        return rest == 0 ? size : checked(size + (pageSize - rest));
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 04.2: where glibc's malloc(<paramref name="size"/>) gets its block when the arena has no free space
    /// that fits, given the mmap threshold <paramref name="threshold"/> (M_MMAP_THRESHOLD, 128 KiB by default).
    /// glibc compares the *chunk size*, not the request: the chunk is the request plus 8 bytes of header, rounded up
    /// to a multiple of 16, and at least 32 bytes (malloc.c: request2size). A chunk size &gt;= threshold is a Mapping;
    /// smaller is Heap. So with the default threshold malloc(131048) (chunk 131056) is Heap and malloc(131049)
    /// (chunk 131072) is Mapping.
    /// A negative size or a threshold &lt;= 0 is an ArgumentOutOfRangeException; a size whose chunk size would not fit
    /// in a long is also an ArgumentOutOfRangeException (glibc's malloc fails with ENOMEM for it).
    /// </summary>
    public static AllocationSource ChooseHeapOrMapping(long size, long threshold)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threshold);
        if (size > long.MaxValue - 23)
            throw new ArgumentOutOfRangeException(nameof(size), size, "the chunk size would overflow (glibc: ENOMEM)");
        long chunk = Math.Max(32, (size + 8 + 15) & ~15L);
        return chunk >= threshold ? AllocationSource.Mapping : AllocationSource.Heap;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 04.3: how many distinct pages a write of <paramref name="length"/> bytes starting at byte
    /// <paramref name="offset"/> of a page-aligned mapping touches — the most minor faults that write can cause
    /// (0 for length 0; offset 4095, length 2 with 4096-byte pages touches 2 pages).
    /// <paramref name="pageSize"/> must be a positive power of two, else ArgumentOutOfRangeException; a negative offset or
    /// length is an ArgumentOutOfRangeException; offset + length beyond long.MaxValue is an OverflowException.
    /// </summary>
    public static long PagesTouched(long offset, long length, long pageSize)
    {
        // BEGIN SOLUTION
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "the page size must be a positive power of two");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0) return 0;
        long last = checked(offset + (length - 1));
        return last / pageSize - offset / pageSize + 1;
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 04.4, a measurement: map <paramref name="pages"/> pages of fresh private anonymous read-write memory, ask
    /// the kernel not to use transparent huge pages for it (so that each page is its own fault), call
    /// <paramref name="touch"/> with the mapping's first address, and return how many minor page faults the calling
    /// thread took while <paramref name="touch"/> ran (the lesson's notebook shows how it counts them). The mapping is
    /// released before returning, also when <paramref name="touch"/> throws. <paramref name="pages"/> must be positive,
    /// else ArgumentOutOfRangeException. The tests pass touch patterns you do not know in advance.
    /// </summary>
    public static long MeasureMinorFaults(long pages, Action<nint> touch)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(touch);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        long length = checked(pages * SysConf.PageSize);
        using var m = Mman.MapAnonymous(length);
        Mman.Advise(m.Address, length, Advice.MADV_NOHUGEPAGE);
        long before = ResourceUsage.Get(RUsageWho.RUSAGE_THREAD).MinorFaults;
        touch(m.Address);
        return ResourceUsage.Get(RUsageWho.RUSAGE_THREAD).MinorFaults - before;
        // END SOLUTION
    }
}

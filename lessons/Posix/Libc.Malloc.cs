using System.Runtime.InteropServices;

namespace Lessons.Posix;

static partial class Libc
{
    // void *malloc(size_t size);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint malloc(nuint size);

    // void *calloc(size_t nmemb, size_t size);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint calloc(nuint nmemb, nuint size);

    // void *realloc(void *ptr, size_t size);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint realloc(nint ptr, nuint size);

    // void free(void *ptr);
    [LibraryImport(Name)]
    public static partial void free(nint ptr);

    // size_t malloc_usable_size(void *ptr);
    [LibraryImport(Name)]
    public static partial nuint malloc_usable_size(nint ptr);

    // int mallopt(int param, int value);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int mallopt(int param, int value);

    // int malloc_trim(size_t pad);
    [LibraryImport(Name)]
    public static partial int malloc_trim(nuint pad);

    // struct mallinfo2 mallinfo2(void);
    [LibraryImport(Name)]
    public static partial MallInfo2 mallinfo2();
}

/// <summary>glibc's <c>struct mallinfo2</c> (glibc 2.33+): ten <c>size_t</c> fields, summed over all arenas.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct MallInfo2
{
    /// <summary>Bytes the arenas got from the system (sbrk for the main arena, mmap for the others).</summary>
    public readonly nuint arena;
    /// <summary>Number of free chunks.</summary>
    public readonly nuint ordblks;
    /// <summary>Number of free fastbin blocks.</summary>
    public readonly nuint smblks;
    /// <summary>Number of chunks allocated with mmap.</summary>
    public readonly nuint hblks;
    /// <summary>Bytes in chunks allocated with mmap.</summary>
    public readonly nuint hblkhd;
    /// <summary>Unused (always 0).</summary>
    public readonly nuint usmblks;
    /// <summary>Bytes in free fastbin blocks.</summary>
    public readonly nuint fsmblks;
    /// <summary>Bytes in chunks in use (from the arenas).</summary>
    public readonly nuint uordblks;
    /// <summary>Bytes in free chunks.</summary>
    public readonly nuint fordblks;
    /// <summary>Bytes at the top of the heap that malloc_trim could release.</summary>
    public readonly nuint keepcost;

    public override string ToString() =>
        $"arena={arena} in-use={uordblks} free={fordblks} mmapped-chunks={hblks} mmapped-bytes={hblkhd} keepcost={keepcost}";
}

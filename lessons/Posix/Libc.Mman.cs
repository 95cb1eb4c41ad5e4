using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>Raw libc imports: each returns exactly what C returns. Use the checked wrappers instead.</summary>
static partial class Libc
{
    public const string Name = "libc";

    /// <summary>What mmap and shmat return on failure: <c>(void *) -1</c>.</summary>
    public static readonly nint MAP_FAILED = -1;

    // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    // int munmap(void *addr, size_t length);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);

    // void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ... /* void *new_address */);
    // Variadic in C; glibc's mremap is a plain system-call stub, so passing new_address always is the same call.
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint mremap(nint old_address, nuint old_size, nuint new_size, int flags, nint new_address);

    // int mprotect(void *addr, size_t len, int prot);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int mprotect(nint addr, nuint len, int prot);

    // int madvise(void *addr, size_t length, int advice);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int madvise(nint addr, nuint length, int advice);

    // int memfd_create(const char *name, unsigned int flags);
    [LibraryImport(Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int memfd_create(string name, uint flags);

    // int shm_open(const char *name, int oflag, mode_t mode);
    [LibraryImport(Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int shm_open(string name, int oflag, uint mode);

    // int shm_unlink(const char *name);
    [LibraryImport(Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int shm_unlink(string name);
}

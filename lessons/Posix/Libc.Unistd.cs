using System.Runtime.InteropServices;

namespace Lessons.Posix;

static partial class Libc
{
    // int brk(void *addr);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int brk(nint addr);

    // void *sbrk(intptr_t increment);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint sbrk(nint increment);

    // long sysconf(int name);
    [LibraryImport(Name, SetLastError = true)]
    public static partial long sysconf(int name);

    // int ftruncate(int fd, off_t length);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int ftruncate(int fd, long length);

    // off_t lseek(int fd, off_t offset, int whence);
    [LibraryImport(Name, SetLastError = true)]
    public static partial long lseek(int fd, long offset, int whence);

    // pid_t getpid(void);
    [LibraryImport(Name)]
    public static partial int getpid();

    // pid_t gettid(void);  (glibc 2.30+)
    [LibraryImport(Name)]
    public static partial int gettid();

    // int open(const char *pathname, int flags, mode_t mode);
    [LibraryImport(Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string pathname, int flags, uint mode);

    // ssize_t read(int fd, void *buf, size_t count);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint read(int fd, nint buf, nuint count);

    // ssize_t write(int fd, const void *buf, size_t count);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint write(int fd, nint buf, nuint count);
}

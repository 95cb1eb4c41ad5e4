using Microsoft.Win32.SafeHandles;

namespace Lessons.Posix;

/// <summary>
/// Calls on file descriptors. A descriptor is a <see cref="SafeFileHandle"/>: Dispose closes it, and the BCL's file
/// APIs take it as it is.
/// </summary>
public static class FileDescriptors
{
    /// <summary>A handle that owns <paramref name="fd"/> and closes it on Dispose.</summary>
    internal static SafeFileHandle Own(int fd) => new(fd, ownsHandle: true);

    /// <summary>The descriptor number (fd 3, 4, …).</summary>
    public static int Number(this SafeFileHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        ObjectDisposedException.ThrowIf(fd.IsClosed, fd);
        return (int)fd.DangerousGetHandle();
    }

    /// <summary>ftruncate: sets the size of the file (or shared memory object).</summary>
    public static void Truncate(this SafeFileHandle fd, long length)
    {
        int n = fd.Number();
        Checked.RequireLinux("ftruncate");
        if (Libc.ftruncate(n, length) != 0)
            throw PosixException.FromLastError($"ftruncate(fd={n}, length={length})");
    }

    /// <summary>The file's size in bytes: lseek(fd, 0, SEEK_END) (it moves the file offset to the end).</summary>
    public static long Size(this SafeFileHandle fd)
    {
        int n = fd.Number();
        Checked.RequireLinux("lseek");
        long size = Libc.lseek(n, 0, 2 /* SEEK_END */);
        if (size < 0)
            throw PosixException.FromLastError($"lseek(fd={n}, offset=0, whence=SEEK_END)");
        return size;
    }
}

using System.Runtime.InteropServices;
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

    /// <summary>fstat, through statx(fd, "", AT_EMPTY_PATH): the identity, type, mode and size of the open file.</summary>
    public static FileStatus Status(this SafeFileHandle fd)
    {
        int n = fd.Number();
        Checked.RequireLinux("statx");
        if (Libc.statx(n, "", Libc.AT_EMPTY_PATH, Libc.STATX_BASIC_STATS, out var s) != 0)
            throw PosixException.FromLastError($"statx(dirfd={n}, path=\"\", flags=AT_EMPTY_PATH, mask=STATX_BASIC_STATS)");
        return FileStatus.From(s);
    }

    /// <summary>lstat, through statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW): null when nothing has that path (ENOENT).</summary>
    public static FileStatus? TryStatus(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.Contains('\0'))
            throw new ArgumentException($"the path \"{path.Replace("\0", "\\0")}\" contains a NUL character", nameof(path));
        Checked.RequireLinux("statx");
        if (Libc.statx(Libc.AT_FDCWD, path, Libc.AT_SYMLINK_NOFOLLOW, Libc.STATX_BASIC_STATS, out var s) == 0)
            return FileStatus.From(s);
        var e = PosixException.FromLastError($"statx(dirfd=AT_FDCWD, path=\"{path}\", flags=AT_SYMLINK_NOFOLLOW, mask=STATX_BASIC_STATS)");
        return e.Errno == Errno.ENOENT ? null : throw e;
    }

    /// <summary>open(path, flags, mode): a descriptor of a regular file (mode 0600 by default, used with O_CREAT).</summary>
    public static SafeFileHandle Open(string path, OpenFlags flags, int mode = 0x180 /* 0600 */)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.Contains('\0'))
            throw new ArgumentException($"the path \"{path.Replace("\0", "\\0")}\" contains a NUL character", nameof(path));
        string call = $"open(path=\"{path}\", flags={CFormat.Flags(flags)}, mode={CFormat.Octal(mode)})";
        Checked.RequireLinux("open");
        int fd = Libc.open(path, (int)flags, (uint)mode);
        if (fd < 0)
            throw PosixException.FromLastError(call);
        return Own(fd);
    }

    /// <summary>read(fd, buffer, count): the number of bytes read (0 at the end of the file).</summary>
    public static unsafe int Read(this SafeFileHandle fd, Span<byte> buffer)
    {
        int n = fd.Number();
        Checked.RequireLinux("read");
        nint got;
        fixed (byte* p = buffer)
            got = Libc.read(n, (nint)p, (nuint)buffer.Length);
        if (got < 0)
            throw PosixException.FromLastError($"read(fd={n}, count={buffer.Length})");
        return (int)got;
    }

    /// <summary>write(fd, buffer, count): the number of bytes written.</summary>
    public static unsafe int Write(this SafeFileHandle fd, ReadOnlySpan<byte> buffer)
    {
        int n = fd.Number();
        Checked.RequireLinux("write");
        nint put;
        fixed (byte* p = buffer)
            put = Libc.write(n, (nint)p, (nuint)buffer.Length);
        if (put < 0)
            throw PosixException.FromLastError($"write(fd={n}, count={buffer.Length})");
        return (int)put;
    }

    /// <summary>The whole file as plain read() calls see it: opens <paramref name="path"/> O_RDONLY and reads to its end.</summary>
    public static byte[] ReadAll(string path)
    {
        using var fd = Open(path, OpenFlags.O_RDONLY);
        var content = new MemoryStream();
        var buffer = new byte[4096];
        int got;
        while ((got = fd.Read(buffer)) > 0)
            content.Write(buffer, 0, got);
        return content.ToArray();
    }
}

using System.Runtime.InteropServices;

namespace Lessons.Posix;

static partial class Libc
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_EMPTY_PATH = 0x1000;
    public const uint STATX_BASIC_STATS = 0x7ff;

    // int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct statx *statxbuf);  (glibc 2.28+)
    [LibraryImport(Name, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string pathname, int flags, uint mask, out StatxNative statxbuf);
}

/// <summary>struct statx (the same layout on every Linux architecture), the fields the workbook reads.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
struct StatxNative
{
    [FieldOffset(16)] public uint stx_nlink;
    [FieldOffset(20)] public uint stx_uid;
    [FieldOffset(28)] public ushort stx_mode;
    [FieldOffset(32)] public ulong stx_ino;
    [FieldOffset(40)] public ulong stx_size;
    [FieldOffset(136)] public uint stx_dev_major;
    [FieldOffset(140)] public uint stx_dev_minor;
}

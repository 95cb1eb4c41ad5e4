namespace Lessons.Posix;

/// <summary>
/// What fstat/stat say about a file (read through statx): its identity (<see cref="Device"/>, <see cref="Inode"/>),
/// type and permission bits (<see cref="Mode"/>), hard links and size. Two names or descriptors refer to the same
/// object exactly when <see cref="SameObject"/> holds.
/// </summary>
public readonly record struct FileStatus(ulong Device, ulong Inode, int Mode, long Links, int OwnerUid, long Size)
{
    const int S_IFMT = 0xf000, S_IFREG = 0x8000, S_IFDIR = 0x4000, S_IFIFO = 0x1000, S_IFLNK = 0xa000,
        S_IFSOCK = 0xc000, S_IFCHR = 0x2000, S_IFBLK = 0x6000;

    /// <summary>The permission bits (st_mode &amp; 0777), e.g. 0x180 for 0600.</summary>
    public int Permissions => Mode & 0x1ff;

    /// <summary>S_ISREG: a regular file (what a POSIX shared memory object is on Linux).</summary>
    public bool IsRegularFile => (Mode & S_IFMT) == S_IFREG;

    /// <summary>The file type in words: "regular file", "directory", "FIFO", …</summary>
    public string TypeName => (Mode & S_IFMT) switch
    {
        S_IFREG => "regular file",
        S_IFDIR => "directory",
        S_IFIFO => "FIFO (named pipe)",
        S_IFLNK => "symbolic link",
        S_IFSOCK => "socket",
        S_IFCHR => "character device",
        S_IFBLK => "block device",
        _ => $"file of type {CFormat.Octal(Mode & S_IFMT)}",
    };

    /// <summary>The same object: the same st_dev and st_ino.</summary>
    public bool SameObject(FileStatus other) => Device == other.Device && Inode == other.Inode;

    public override string ToString() =>
        $"{TypeName}, inode {Inode} on device {Device}, mode {CFormat.Octal(Permissions)}, {Links} links, {Size} bytes";

    internal static FileStatus From(in StatxNative s) => new(
        MakeDev(s.stx_dev_major, s.stx_dev_minor), s.stx_ino, s.stx_mode, s.stx_nlink, (int)s.stx_uid, (long)s.stx_size);

    // glibc's makedev: the st_dev that stat would report for this major:minor.
    static ulong MakeDev(ulong major, ulong minor) =>
        ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
}

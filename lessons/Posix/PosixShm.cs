using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Lessons.Posix;

/// <summary>Checked wrappers for POSIX shared memory: shm_open, shm_unlink (objects live in /dev/shm).</summary>
public static class PosixShm
{
    /// <summary>NAME_MAX: the most bytes (UTF-8) a name may have after its leading slash.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Where glibc keeps the objects on Linux: the name "/x" is the file /dev/shm/x.</summary>
    public const string DevShm = "/dev/shm";

    /// <summary>
    /// shm_open. Permissions default to 0600 (owner read and write). glibc adds O_NOFOLLOW (a symbolic link is ELOOP)
    /// and O_CLOEXEC. With <paramref name="portableName"/> false the name goes to glibc as it is (glibc strips leading
    /// slashes, so "OS" and "/OS" are the same object); glibc's own refusals come back as the PosixException (EINVAL,
    /// ENAMETOOLONG).
    /// </summary>
    public static SafeFileHandle Open(string name, OpenFlags flags, int mode = 0x180 /* 0600 */, bool portableName = true)
    {
        Validate(name, portableName);
        string call = $"shm_open(name=\"{name}\", oflag={CFormat.Flags(flags)}, mode={CFormat.Octal(mode)})";
        Checked.RequireLinux("shm_open");
        int fd = Libc.shm_open(name, (int)flags, (uint)mode);
        if (fd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new PosixException(call, errno, Hint((Errno)errno, name, flags));
        }
        return FileDescriptors.Own(fd);
    }

    static string? Hint(Errno errno, string name, OpenFlags flags)
    {
        bool create = (flags & OpenFlags.O_CREAT) != 0;
        string access = (flags & OpenFlags.O_RDWR) != 0 ? "reading and writing" : "reading";
        return errno switch
        {
            Errno.ENOENT when !create => "no such object: has the producer created it yet?",
            Errno.ELOOP => $"{DevShm}{name} is a symbolic link, and shm_open does not follow links (glibc opens with O_NOFOLLOW)",
            Errno.EACCES when create => $"permission denied: this user may not create {DevShm}{name}, or it exists and its mode does not allow {access}",
            Errno.EACCES => $"permission denied: {DevShm}{name} exists, but its mode (or owner) does not let this user open it for {access}",
            Errno.EISDIR => $"{DevShm}{name} is a directory, not a shared memory object",
            _ => null,
        };
    }

    /// <summary>shm_unlink: removes the name; mappings already made stay valid. <paramref name="portableName"/> as for <see cref="Open"/>.</summary>
    public static void Unlink(string name, bool portableName = true)
    {
        Validate(name, portableName);
        Checked.RequireLinux("shm_unlink");
        if (Libc.shm_unlink(name) != 0)
            throw PosixException.FromLastError($"shm_unlink(name=\"{name}\")");
    }

    static void Validate(string name, bool portable)
    {
        if (portable)
        {
            ValidateName(name);
            return;
        }
        ArgumentNullException.ThrowIfNull(name);
        if (name.Contains('\0'))
            throw new ArgumentException($"shared memory name \"{name.Replace("\0", "\\0")}\" contains a NUL character", nameof(name));
    }

    /// <summary>
    /// A portable name is "/" then 1 to 255 bytes of UTF-8 (NAME_MAX) with no other "/", and not "/." or "/.."
    /// (those are /dev/shm itself and its parent).
    /// </summary>
    public static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string? problem =
            !name.StartsWith('/') ? "must start with '/'" :
            name.Length == 1 ? "needs at least one character after '/'" :
            name.IndexOf('/', 1) >= 0 ? "may contain no '/' after the first" :
            name is "/." or "/.." ? "may not be \".\" or \"..\" after the '/' (those name directories)" :
            name.Contains('\0') ? "contains a NUL character" :
            Encoding.UTF8.GetByteCount(name.AsSpan(1)) is var bytes && bytes > MaxNameLength
                ? $"is {bytes} bytes of UTF-8 after the '/', longer than {MaxNameLength} bytes (NAME_MAX)" : null;
        if (problem is not null)
            throw new ArgumentException($"shared memory name \"{Shown(name)}\" {problem} (example: \"/workbook-demo\").", nameof(name));
    }

    static string Shown(string name) => name.Replace("\0", "\\0");

    /// <summary>What the name refers to now (lstat of /dev/shm/NAME), or null when no object has it.</summary>
    public static FileStatus? StatusOfName(string name)
    {
        ValidateName(name);
        return FileDescriptors.TryStatus(DevShm + name);
    }
}

/// <summary>What a name refers to compared with the object this process created under it.</summary>
public enum NameState
{
    /// <summary>The name still refers to our object.</summary>
    Ours,

    /// <summary>No object has the name any more.</summary>
    Gone,

    /// <summary>The name refers to another object: ours was removed and the name created again.</summary>
    Replaced,
}

/// <summary>
/// A /dev/shm object this process created, tracked by its identity (st_dev, st_ino), not only by its name: Dispose
/// (or Ctrl+C, or process exit) unlinks the name only while it still refers to that object.
/// </summary>
public sealed class OwnedShmName : System.Runtime.InteropServices.SafeHandle
{
    readonly Action cleanup;

    OwnedShmName(string name, FileStatus identity) : base(0, ownsHandle: true)
    {
        SetHandle(1); // a name has no descriptor: the handle only marks "not yet unlinked"
        Name = name;
        Identity = identity;
        cleanup = Dispose;
        ProcessCleanup.Register(cleanup);
    }

    /// <summary>shm_open(name, O_CREAT|O_EXCL|O_RDWR, mode) + fstat + ftruncate(size): a new object of the given size.</summary>
    public static (OwnedShmName Name, SafeFileHandle Fd) Create(string name, long size, int mode = 0x180)
    {
        // A signal's clean-up waits until the name is registered for unlinking.
        var (owned, fd) = ProcessCleanup.Creating(() =>
        {
            var fd = PosixShm.Open(name, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_RDWR, mode);
            try { return (new OwnedShmName(name, fd.Status()), fd); }
            catch { Libc.shm_unlink(name); fd.Dispose(); throw; } // just created with O_EXCL: the name is ours
        });
        try { fd.Truncate(size); }
        catch { fd.Dispose(); owned.Dispose(); throw; }
        return (owned, fd);
    }

    public string Name { get; }

    /// <summary>fstat of the new object's descriptor, right after shm_open: its device, inode and real mode.</summary>
    public FileStatus Identity { get; }

    /// <summary>What the name refers to now, compared with <see cref="Identity"/>, and its status (null when gone).</summary>
    public (NameState State, FileStatus? Now) Check()
    {
        var now = PosixShm.StatusOfName(Name);
        return (now is not { } n ? NameState.Gone : n.SameObject(Identity) ? NameState.Ours : NameState.Replaced, now);
    }

    /// <summary>Gives the name away without unlinking it (someone else, e.g. a consumer, will unlink it).</summary>
    public void Disown()
    {
        ProcessCleanup.Unregister(cleanup);
        SetHandleAsInvalid();
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        ProcessCleanup.Unregister(cleanup);
        // Another process may have unlinked ours and created the name again: leave its object alone. (Between this
        // check and shm_unlink the name could still change hands; nothing in POSIX closes that window.)
        FileStatus? now;
        try { now = PosixShm.StatusOfName(Name); }
        catch (PosixException) { return false; }
        return now is not { } n || !n.SameObject(Identity) || Libc.shm_unlink(Name) == 0;
    }

    public override string ToString() => IsClosed ? $"{Name} (unlinked)" : Name;
}

using Microsoft.Win32.SafeHandles;

namespace Lessons.Posix;

/// <summary>Checked wrappers for POSIX shared memory: shm_open, shm_unlink (objects live in /dev/shm).</summary>
public static class PosixShm
{
    /// <summary>The longest name glibc accepts (NAME_MAX), without the leading slash.</summary>
    public const int MaxNameLength = 255;

    /// <summary>
    /// shm_open. Permissions default to 0600 (owner read and write). With <paramref name="portableName"/> false the
    /// name goes to glibc as it is (glibc strips leading slashes, so "OS" and "/OS" are the same object); glibc's own
    /// refusals come back as the PosixException (EINVAL, ENAMETOOLONG).
    /// </summary>
    public static SafeFileHandle Open(string name, OpenFlags flags, int mode = 0x180 /* 0600 */, bool portableName = true)
    {
        Validate(name, portableName);
        string call = $"shm_open(name=\"{name}\", oflag={CFormat.Flags(flags)}, mode={CFormat.Octal(mode)})";
        Checked.RequireLinux("shm_open");
        int fd = Libc.shm_open(name, (int)flags, (uint)mode);
        if (fd < 0)
            throw PosixException.FromLastError(call,
                (flags & OpenFlags.O_CREAT) == 0 ? "no such object: has the producer created it yet?" : null);
        return FileDescriptors.Own(fd);
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

    /// <summary>A portable name is "/" then 1..255 characters with no other "/".</summary>
    public static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string? problem =
            !name.StartsWith('/') ? "must start with '/'" :
            name.Length == 1 ? "needs at least one character after '/'" :
            name.IndexOf('/', 1) >= 0 ? "may contain no '/' after the first" :
            name.Length - 1 > MaxNameLength ? $"is longer than {MaxNameLength} characters" :
            name.Contains('\0') ? "contains a NUL character" : null;
        if (problem is not null)
            throw new ArgumentException($"shared memory name \"{name}\" {problem} (example: \"/workbook-demo\").", nameof(name));
    }
}

/// <summary>A /dev/shm name this process created: Dispose (or Ctrl+C, or process exit) unlinks it.</summary>
public sealed class OwnedShmName : System.Runtime.InteropServices.SafeHandle
{
    readonly Action cleanup;

    OwnedShmName(string name) : base(0, ownsHandle: true)
    {
        SetHandle(1); // a name has no descriptor: the handle only marks "not yet unlinked"
        Name = name;
        cleanup = Dispose;
        ProcessCleanup.Register(cleanup);
    }

    /// <summary>shm_open(name, O_CREAT|O_EXCL|O_RDWR, mode) + ftruncate(size): a new object of the given size.</summary>
    public static (OwnedShmName Name, SafeFileHandle Fd) Create(string name, long size, int mode = 0x180)
    {
        var fd = PosixShm.Open(name, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_RDWR, mode);
        var owned = new OwnedShmName(name);
        try { fd.Truncate(size); }
        catch { fd.Dispose(); owned.Dispose(); throw; }
        return (owned, fd);
    }

    public string Name { get; }

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
        return Libc.shm_unlink(Name) == 0;
    }

    public override string ToString() => IsClosed ? $"{Name} (unlinked)" : Name;
}

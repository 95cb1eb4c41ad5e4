using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// What shmctl(IPC_STAT) says about a System V segment. <see cref="Mode"/> is the permission bits; <see cref="Locked"/>
/// (SHM_LOCKED) and <see cref="MarkedForRemoval"/> (SHM_DEST) are the kernel's flags in the same <c>shm_perm.mode</c>.
/// </summary>
public sealed record SegmentStatus(
    int Id, int Key, long Size, int Mode, int OwnerUid, int CreatorPid, int LastPid, long Attachments,
    DateTimeOffset? LastAttach, DateTimeOffset? LastDetach, DateTimeOffset LastChange,
    bool Locked = false, bool MarkedForRemoval = false)
{
    public override string ToString() =>
        $"segment {Id}: key={CFormat.Hex(Key)} size={Size} mode={CFormat.Octal(Mode)} creator pid={CreatorPid} " +
        $"last pid={LastPid} attached={Attachments} changed={LastChange:HH:mm:ss}";
}

/// <summary>Checked wrappers for System V shared memory: shmget, shmat, shmdt, shmctl, ftok.</summary>
public static class SysVShm
{
    /// <summary>IPC_PRIVATE: a key that always makes a new segment.</summary>
    public const int IPC_PRIVATE = 0;

    /// <summary>shmctl command SHM_LOCK (Linux): keep the segment's pages in RAM (never swapped out).</summary>
    public const int SHM_LOCK = Libc.SHM_LOCK;

    /// <summary>shmctl command SHM_UNLOCK (Linux): the segment's pages may be swapped out again.</summary>
    public const int SHM_UNLOCK = Libc.SHM_UNLOCK;

    /// <summary>shmat flag SHM_REMAP (Linux): attach over whatever is mapped at shmaddr (as MAP_FIXED does for mmap).</summary>
    public const ShmatFlags SHM_REMAP = (ShmatFlags)Libc.SHM_REMAP;

    /// <summary>What shmat returns on failure: <c>(void *) -1</c>, not NULL.</summary>
    public static nint SHMAT_FAILED => Libc.MAP_FAILED;

    /// <summary>
    /// SHMLBA, the "low boundary address" multiple that SHM_RND rounds shmaddr down to: glibc defines it as the page
    /// size (<c>__getpagesize()</c>) on x86-64 and arm64.
    /// </summary>
    public static long SHMLBA => SysConf.PageSize;

    /// <summary>shmget: the id of the segment with this key (created with IPC_CREAT). Permission bits go in <paramref name="mode"/>.</summary>
    public static int Get(int key, long size, IpcFlags flags = IpcFlags.None, int mode = 0)
    {
        string call = $"shmget(key={CFormat.Hex(key)}, size={size}, shmflg={CFormat.Flags(flags)}|{CFormat.Octal(mode)})";
        Checked.RequireLinux("shmget");
        int id = Libc.shmget(key, Checked.Size(call, nameof(size), size), (int)flags | (mode & 0x1ff));
        if (id < 0)
            throw PosixException.FromLastError(call, size == 0 ? "a size of 0 is only valid for an existing segment" : null);
        return id;
    }

    /// <summary>shmat: attaches the segment; Dispose detaches it (shmdt).</summary>
    public static Attachment Attach(int id, ShmatFlags flags = ShmatFlags.None)
    {
        string call = $"shmat(shmid={id}, shmaddr=NULL, shmflg={CFormat.Flags(flags)})";
        Checked.RequireLinux("shmat");
        nint p = Libc.shmat(id, 0, (int)flags);
        if (p == Libc.MAP_FAILED)
            throw PosixException.FromLastError(call);
        long size;
        try { size = Stat(id).Size; }
        catch { Libc.shmdt(p); throw; }
        return new Attachment(p, size, id, (flags & ShmatFlags.SHM_RDONLY) != 0);
    }

    /// <summary>
    /// shmat at a chosen address. Without SHM_RND <paramref name="address"/> must be a multiple of <see cref="SHMLBA"/>
    /// (EINVAL otherwise); with SHM_RND it is rounded down to one. Without <see cref="SHM_REMAP"/> nothing may be mapped
    /// there yet. Dispose detaches.
    /// </summary>
    public static Attachment AttachAt(int id, nint address, ShmatFlags flags)
    {
        string call = $"shmat(shmid={id}, shmaddr={CFormat.Hex(address)}, shmflg={FlagText(flags)})";
        Checked.RequireLinux("shmat");
        nint p = Libc.shmat(id, address, (int)flags);
        if (p == Libc.MAP_FAILED)
            throw PosixException.FromLastError(call, address % SHMLBA != 0 && (flags & ShmatFlags.SHM_RND) == 0
                ? $"shmaddr is not a multiple of SHMLBA ({SHMLBA}); SHM_RND would round it down" : null);
        long size;
        try { size = Stat(id).Size; }
        catch { Libc.shmdt(p); throw; }
        return new Attachment(p, size, id, (flags & ShmatFlags.SHM_RDONLY) != 0);
    }

    /// <summary>
    /// The bare shmat: returns exactly what C returns, the address or <see cref="SHMAT_FAILED"/> (<c>(void *) -1</c>),
    /// with the errno (0 on success). A successful attach must be detached by the caller (<see cref="Detach"/>).
    /// </summary>
    public static (nint Result, int Errno) AttachUnchecked(int id, nint address = 0, ShmatFlags flags = ShmatFlags.None)
    {
        Checked.RequireLinux("shmat");
        nint p = Libc.shmat(id, address, (int)flags);
        return (p, p == Libc.MAP_FAILED ? Marshal.GetLastPInvokeError() : 0);
    }

    static string FlagText(ShmatFlags flags)
    {
        var names = new List<string>();
        if ((flags & ShmatFlags.SHM_RDONLY) != 0) names.Add("SHM_RDONLY");
        if ((flags & ShmatFlags.SHM_RND) != 0) names.Add("SHM_RND");
        if ((flags & SHM_REMAP) != 0) names.Add("SHM_REMAP");
        return names.Count == 0 ? "0" : string.Join('|', names);
    }

    /// <summary>shmdt.</summary>
    public static void Detach(nint address)
    {
        Checked.RequireLinux("shmdt");
        if (Libc.shmdt(address) != 0)
            throw PosixException.FromLastError($"shmdt(shmaddr={CFormat.Hex(address)})");
    }

    /// <summary>shmctl(IPC_STAT).</summary>
    public static unsafe SegmentStatus Stat(int id)
    {
        Checked.RequireLinux("shmctl");
        ShmidDsNative ds;
        if (Libc.shmctl(id, (int)ShmCtlCommand.IPC_STAT, &ds) != 0)
            throw PosixException.FromLastError($"shmctl(shmid={id}, cmd=IPC_STAT)");
        static DateTimeOffset? Time(long t) => t == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(t).ToLocalTime();
        return new SegmentStatus(id, ds.key, (long)ds.shm_segsz, ds.mode & 0x1ff, (int)ds.uid, ds.shm_cpid, ds.shm_lpid,
            (long)ds.shm_nattch, Time(ds.shm_atime), Time(ds.shm_dtime), Time(ds.shm_ctime) ?? DateTimeOffset.UnixEpoch,
            (ds.mode & Libc.SHM_LOCKED) != 0, (ds.mode & Libc.SHM_DEST) != 0);
    }

    /// <summary>
    /// shmctl(IPC_SET) with the segment's own uid and gid and new permission bits <paramref name="mode"/> (e.g. 0640):
    /// only the owner, the creator or a privileged process may do it (EPERM otherwise).
    /// </summary>
    public static unsafe void SetMode(int id, int mode)
    {
        if (mode is < 0 or > 0x1ff)
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "the permission bits are 0 to 0777");
        string call = $"shmctl(shmid={id}, cmd=IPC_SET, buf={{mode={CFormat.Octal(mode)}}})";
        Checked.RequireLinux("shmctl");
        ShmidDsNative ds;
        if (Libc.shmctl(id, (int)ShmCtlCommand.IPC_STAT, &ds) != 0)
            throw PosixException.FromLastError($"shmctl(shmid={id}, cmd=IPC_STAT)");
        ds.mode = (ushort)((ds.mode & ~0x1ff) | mode);
        if (Libc.shmctl(id, (int)ShmCtlCommand.IPC_SET, &ds) != 0)
            throw PosixException.FromLastError(call);
    }

    /// <summary>
    /// shmctl(SHM_LOCK): the segment's pages stay in RAM. Without CAP_IPC_LOCK (root has it) the caller must own the
    /// segment, and the locked total of its user must stay within RLIMIT_MEMLOCK (ENOMEM beyond it, EPERM if it is 0).
    /// </summary>
    public static unsafe void Lock(int id) => Control(id, Libc.SHM_LOCK, "SHM_LOCK");

    /// <summary>shmctl(SHM_UNLOCK): the segment's pages may be swapped out again.</summary>
    public static unsafe void Unlock(int id) => Control(id, Libc.SHM_UNLOCK, "SHM_UNLOCK");

    static unsafe void Control(int id, int cmd, string name)
    {
        Checked.RequireLinux("shmctl");
        if (Libc.shmctl(id, cmd, null) != 0)
            throw PosixException.FromLastError($"shmctl(shmid={id}, cmd={name})",
                Marshal.GetLastPInvokeError() == (int)Errno.ENOMEM ? "the locked total would exceed RLIMIT_MEMLOCK" : null);
    }

    /// <summary>shmctl(IPC_RMID): the segment goes away once the last process detaches.</summary>
    public static unsafe void Remove(int id)
    {
        Checked.RequireLinux("shmctl");
        if (Libc.shmctl(id, (int)ShmCtlCommand.IPC_RMID, null) != 0)
            throw PosixException.FromLastError($"shmctl(shmid={id}, cmd=IPC_RMID)");
    }

    /// <summary>ftok: a key made from an existing file's inode and a project id (1..255).</summary>
    public static int Ftok(string path, int projectId)
    {
        string call = $"ftok(pathname=\"{path}\", proj_id={projectId})";
        Checked.RequireLinux("ftok");
        int key = Libc.ftok(path, projectId);
        if (key == -1)
            throw PosixException.FromLastError(call);
        return key;
    }
}

/// <summary>An attached segment: Dispose detaches it (shmdt).</summary>
public sealed class Attachment : MemoryHandle
{
    internal Attachment(nint address, long size, int id, bool readOnly) : base(address, size)
    {
        SegmentId = id;
        ReadOnly = readOnly;
    }

    public int SegmentId { get; }

    /// <summary>Attached with SHM_RDONLY: read the bytes only (a write kills the process with SIGSEGV).</summary>
    public bool ReadOnly { get; }

    protected override bool ReleaseHandle() => Libc.shmdt(handle) == 0;

    public override string ToString() =>
        IsClosed ? "Attachment (detached)" : $"segment {SegmentId} attached at {CFormat.Hex(handle)} ({Length} bytes{(ReadOnly ? ", read-only" : "")})";
}

/// <summary>A segment this process created and owns: Dispose (or Ctrl+C, or process exit) removes it (IPC_RMID).</summary>
public sealed class OwnedSegment : SafeHandle
{
    readonly Action cleanup;

    OwnedSegment(int id, int key, long size) : base(-1, ownsHandle: true)
    {
        SetHandle(id);
        Key = key;
        Size = size;
        cleanup = () => Dispose();
        ProcessCleanup.Register(cleanup);
    }

    /// <summary>shmget(key, size, IPC_CREAT|IPC_EXCL|mode): fails with EEXIST if the key is taken. A signal's clean-up
    /// waits until the segment is registered for removal (<see cref="ProcessCleanup.Creating"/>).</summary>
    public static OwnedSegment Create(int key, long size, int mode = 0x180 /* 0600 */) =>
        ProcessCleanup.Creating(() => new OwnedSegment(SysVShm.Get(key, size, IpcFlags.IPC_CREAT | IpcFlags.IPC_EXCL, mode), key, size));

    /// <summary>Takes ownership of an existing segment id (it will be removed on Dispose).</summary>
    public static OwnedSegment Adopt(int id)
    {
        var st = SysVShm.Stat(id);
        return new(id, st.Key, st.Size);
    }

    public int Id => IsClosed ? throw new ObjectDisposedException(nameof(OwnedSegment), "the segment was removed") : (int)handle;
    public int Key { get; }
    public long Size { get; }

    public override bool IsInvalid => handle < 0;

    public Attachment Attach(ShmatFlags flags = ShmatFlags.None) => SysVShm.Attach(Id, flags);

    public SegmentStatus Stat() => SysVShm.Stat(Id);

    protected override unsafe bool ReleaseHandle()
    {
        ProcessCleanup.Unregister(cleanup);
        return Libc.shmctl((int)handle, (int)ShmCtlCommand.IPC_RMID, null) == 0;
    }

    public override string ToString() => IsClosed ? "segment (removed)" : $"segment {(int)handle} key={CFormat.Hex(Key)} size={Size}";
}

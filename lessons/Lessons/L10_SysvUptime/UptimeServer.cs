using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// The up-time server's segment: created (IPC_CREAT|IPC_EXCL) or taken over from a dead server, attached
/// read-write, removed on Dispose, on exit and on SIGINT/SIGTERM (through <see cref="OwnedSegment"/>).
/// </summary>
public sealed class UptimeServer : IDisposable
{
    readonly OwnedSegment segment;
    readonly Attachment attachment;
    readonly Stopwatch clock = Stopwatch.StartNew();

    UptimeServer(OwnedSegment segment, Attachment attachment, string message)
    {
        this.segment = segment;
        this.attachment = attachment;
        Message = message;
    }

    /// <summary>What happened when the segment was opened (created, or taken over from which dead pid).</summary>
    public string Message { get; }
    public int Key => segment.Key;
    public int Id => segment.Id;
    public Attachment Attachment => attachment;

    /// <summary>
    /// Creates the segment (IPC_CREAT|IPC_EXCL), or takes over one that carries the workbook's marker and whose recorded
    /// server pid is dead. The take-over is a compare-and-swap of that pid inside the segment: of servers started together
    /// exactly one wins. Any other segment at the key is left alone: never written, never removed.
    /// </summary>
    /// <exception cref="UptimeSegmentException">The key's segment is in use, is not the workbook's, or is too small.</exception>
    /// <exception cref="PosixException">shmget/shmat failed otherwise (for example EACCES).</exception>
    public static UptimeServer Open(int key, long size = UptimeLayout.DefaultSize, int mode = UptimeLayout.DefaultMode)
    {
        if (size < UptimeLayout.MinimumSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"the segment needs at least {UptimeLayout.MinimumSize} bytes (text at 0, counter at {UptimeLayout.SequenceOffset}, marker at {UptimeLayout.MagicOffset})");
        if (key == SysVShm.IPC_PRIVATE)
            throw new ArgumentOutOfRangeException(nameof(key), key, "IPC_PRIVATE (0) cannot be found by a client: choose another key");
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return Created(OwnedSegment.Create(key, size, mode), $"created segment key={CFormat.Hex(key)} size={size} mode={CFormat.Octal(mode)}");
            }
            catch (PosixException e) when (e.Errno == Errno.EEXIST)
            {
                int id;
                try { id = SysVShm.Get(key, 0); }
                catch (PosixException gone) when (gone.Errno == Errno.ENOENT && attempt < 3) { continue; } // removed meanwhile
                return TakeOver(key, id, size);
            }
        }
    }

    /// <summary>
    /// Removes the private segments (key IPC_PRIVATE) a killed uptime-load left: SIGKILL between its shmget and its
    /// IPC_RMID, a few microseconds, leaves a segment no key finds. Only a segment that is surely such a leftover is
    /// removed: this user's, attached by nobody, with the workbook's marker, and the server pid it records is its
    /// creator's and dead. Anything else is left alone. Returns what was removed, one line each.
    /// </summary>
    public static IReadOnlyList<string> ReclaimOrphanedPrivate()
    {
        var removed = new List<string>();
        int uid = SysVDetails.Rights().EffectiveUid;
        foreach (var line in SysVDetails.ParseProc(File.ReadLines("/proc/sysvipc/shm")))
        {
            if (line.Key != SysVShm.IPC_PRIVATE || line.Attachments != 0 || line.Size < UptimeLayout.MinimumSize || Signals.IsAlive(line.CreatorPid))
                continue;
            try
            {
                var st = SysVShm.Stat(line.Id);
                if (st.OwnerUid != uid || st.Attachments != 0) continue;
                using var a = SysVShm.Attach(line.Id, ShmatFlags.SHM_RDONLY);
                int pid = UptimeClock.ReadServerPid(a.Span);
                if (!UptimeClock.HasMarker(a.Span) || pid != st.CreatorPid || Signals.IsAlive(pid)) continue;
                SysVShm.Remove(line.Id);
                removed.Add($"removed private segment {line.Id} ({st.Size} bytes) that pid {pid} left when it was killed before marking it for removal");
            }
            catch (PosixException) { } // removed meanwhile (EINVAL, EIDRM) or not ours to read (EACCES): leave it
        }
        return removed;
    }

    /// <summary>A private segment (IPC_PRIVATE) that only this process and the ids it hands out can reach.</summary>
    public static UptimeServer CreatePrivate(long size = UptimeLayout.DefaultSize) =>
        Created(OwnedSegment.Create(SysVShm.IPC_PRIVATE, size), $"created private segment size={size}");

    static UptimeServer Created(OwnedSegment segment, string message)
    {
        Attachment a;
        try { a = segment.Attach(); }
        catch { segment.Dispose(); throw; }
        UptimeClock.WriteServerPid(a.Span, Environment.ProcessId);
        UptimeClock.WriteMarker(a.Span); // last: a server that sees the marker sees the pid
        return new UptimeServer(segment, a, message);
    }

    static UptimeServer TakeOver(int key, int id, long size)
    {
        var st = SysVShm.Stat(id);
        string found = $"key {CFormat.Hex(key)} has segment {id} ({st.Size} bytes, mode {CFormat.Octal(st.Mode)}, owner uid {st.OwnerUid}, " +
            $"creator pid {st.CreatorPid} {(Signals.IsAlive(st.CreatorPid) ? "alive" : "dead")})";
        bool marked = false;
        int pid = 0;
        if (st.Size >= UptimeLayout.MinimumSize)
        {
            using var look = SysVShm.Attach(id, ShmatFlags.SHM_RDONLY);
            marked = UptimeClock.HasMarker(look.Span);
            pid = UptimeClock.ReadServerPid(look.Span);
        }
        if (!marked)
            throw new UptimeSegmentException(UptimeSegmentProblem.NotTheWorkbooks, st,
                $"{found} without the workbook's marker ({(st.Size < UptimeLayout.MinimumSize ? $"too small for it: the layout needs {UptimeLayout.MinimumSize} bytes" : "marker missing")}): " +
                "it is not an up-time segment of this workbook, so it is left alone (not written, not removed); choose another --key");
        if (Signals.IsAlive(pid))
            throw new UptimeSegmentException(UptimeSegmentProblem.InUse, st, $"key {CFormat.Hex(key)} is in use: its server, pid {pid}, is alive. Stop it first, or choose another --key");
        if (st.Size < size)
            throw new UptimeSegmentException(UptimeSegmentProblem.TooSmall, st,
                $"{found} left by a dead server (pid {pid}), smaller than the {size} bytes asked for: remove it (ipcrm -m {id}) or choose another --key");
        var a = SysVShm.Attach(id);
        try
        {
            if (!UptimeClock.TryClaimServerPid(a.Span, pid, Environment.ProcessId))
                throw new UptimeSegmentException(UptimeSegmentProblem.InUse, st,
                    $"key {CFormat.Hex(key)}: another server, pid {UptimeClock.ReadServerPid(a.Span)}, took segment {id} over first (the dead server was pid {pid})");
            ref long seq = ref UptimeClock.Sequence(a.Span);
            if ((Volatile.Read(ref seq) & 1) != 0) Interlocked.Increment(ref seq); // it died mid-write: even again
            return new UptimeServer(OwnedSegment.Adopt(id), a, $"took over segment {id} (key={CFormat.Hex(key)}): its server, pid {pid}, is dead");
        }
        catch { a.Dispose(); throw; }
    }

    /// <summary>
    /// The pid of the server that writes segment <paramref name="id"/>: the pid stored in the segment, or the
    /// creator pid from IPC_STAT when none is stored (a segment made by the C server).
    /// </summary>
    public static int ServerPidOf(int id, SegmentStatus status)
    {
        if (status.Size < UptimeLayout.MinimumSize) return status.CreatorPid;
        using var look = SysVShm.Attach(id, ShmatFlags.SHM_RDONLY);
        int pid = UptimeClock.ReadServerPid(look.Span);
        return pid > 0 ? pid : status.CreatorPid;
    }

    /// <summary>How long this server has run.</summary>
    public TimeSpan Uptime => clock.Elapsed;

    /// <summary>Writes the current up-time under the seqlock; returns the text written.</summary>
    public string Tick()
    {
        var now = Uptime;
        UptimeClock.WriteTick(attachment.Span, now);
        return UptimeClock.Format(now);
    }

    public SegmentStatus Stat() => segment.Stat();

    /// <summary>Detaches and removes the segment (IPC_RMID).</summary>
    public void Dispose()
    {
        attachment.Dispose();
        segment.Dispose();
    }
}

/// <summary>Why <see cref="UptimeServer.Open"/> would not use the segment at its key.</summary>
public enum UptimeSegmentProblem
{
    /// <summary>Its server is alive, or another server took it over first.</summary>
    InUse,
    /// <summary>It does not carry the workbook's marker: someone else's, left alone.</summary>
    NotTheWorkbooks,
    /// <summary>The workbook's, its server dead, but smaller than the size asked for.</summary>
    TooSmall,
}

/// <summary>The key's segment cannot be used; <see cref="Found"/> is its IPC_STAT.</summary>
public sealed class UptimeSegmentException(UptimeSegmentProblem problem, SegmentStatus found, string message) : InvalidOperationException(message)
{
    public UptimeSegmentProblem Problem { get; } = problem;
    public SegmentStatus Found { get; } = found;
}

/// <summary>What a client sees when it looks at the segment of its key.</summary>
public enum ServerState
{
    /// <summary>The key's segment exists and its creator is alive.</summary>
    Running,
    /// <summary>No segment has this key (shmget: ENOENT): no server was started, or it was stopped.</summary>
    Missing,
    /// <summary>The segment was removed (IPC_RMID) or the creator died: the server went away.</summary>
    Gone,
}

/// <summary>The client side: find the segment, attach read-only, check the server is still there.</summary>
public sealed class UptimeClient : IDisposable
{
    readonly Attachment attachment;

    UptimeClient(int key, int id)
    {
        Key = key;
        Id = id;
        attachment = SysVShm.Attach(id, ShmatFlags.SHM_RDONLY);
    }

    public int Key { get; }
    public int Id { get; }

    /// <summary>The pid of the server writing the segment (stored in it; the creator pid for a C server).</summary>
    public int ServerPid
    {
        get
        {
            int pid = UptimeClock.ReadServerPid(attachment.Span);
            return pid > 0 ? pid : SysVShm.Stat(Id).CreatorPid;
        }
    }

    /// <summary>shmat(SHM_RDONLY) of segment <paramref name="id"/> (a private one, or one already marked for removal).</summary>
    public static UptimeClient AttachId(int id) => new(SysVShm.IPC_PRIVATE, id);

    /// <summary>shmget(key, 0, 0) and shmat(SHM_RDONLY). Null when no segment has this key (ENOENT).</summary>
    public static UptimeClient? TryOpen(int key)
    {
        int id;
        try { id = SysVShm.Get(key, 0); }
        catch (PosixException e) when (e.Errno == Errno.ENOENT) { return null; }
        var client = new UptimeClient(key, id);
        if (client.attachment.Length < UptimeLayout.MinimumSize)
        {
            client.Dispose();
            throw new InvalidOperationException($"segment {id} (key {CFormat.Hex(key)}) has {client.attachment.Length} bytes: too small to be an up-time segment");
        }
        return client;
    }

    /// <summary>
    /// Is the server still there? After IPC_RMID an attached segment lives on until the last detach, but its key
    /// becomes IPC_PRIVATE (0); after SIGKILL the segment stays but its server's pid is dead.
    /// </summary>
    public ServerState State()
    {
        SegmentStatus st;
        try { st = SysVShm.Stat(Id); }
        catch (PosixException e) when (e.Errno is Errno.EINVAL or Errno.EIDRM) { return ServerState.Gone; }
        return st.Key != Key || !Signals.IsAlive(ServerPid) ? ServerState.Gone : ServerState.Running;
    }

    /// <summary>A consistent reading (seqlock); null if the counter stayed odd (the server died mid-write).</summary>
    public UptimeReading? Read() => UptimeClock.ReadConsistent(attachment.Span, maxRetries: 100_000);

    /// <summary>The sequence counter now (even: the text is whole; odd: the server is writing).</summary>
    public long Sequence => Volatile.Read(ref System.Runtime.CompilerServices.Unsafe.AsRef(
        in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(((ReadOnlySpan<byte>)attachment.Span).Slice(UptimeLayout.SequenceOffset, 8))[0]));

    /// <summary>A copy of the segment's first <paramref name="count"/> bytes (text, NUL, counter, server pid).</summary>
    public byte[] Bytes(int count = (int)UptimeLayout.MinimumSize) => attachment.Span[..Math.Min(count, (int)attachment.Length)].ToArray();

    /// <summary>The text as the C client reads it: no seqlock.</summary>
    public string ReadRaw() => UptimeClock.ReadRaw(attachment.Span);

    public void Dispose() => attachment.Dispose();
}

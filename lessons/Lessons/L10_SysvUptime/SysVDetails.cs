using System.Globalization;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// One line of /proc/sysvipc/shm, the kernel's own table of segments (ipcs reads it): <see cref="Size"/> is shm_segsz
/// as asked for, <see cref="Rss"/> the bytes of the segment's pages that are in RAM (whole pages).
/// </summary>
public sealed record SysvipcLine(int Key, int Id, int Perms, long Size, int CreatorPid, long Attachments, long Rss);

/// <summary>
/// What decides whether shmctl(SHM_LOCK) may lock here, read from /proc/self: the effective uid, whether CAP_IPC_LOCK
/// is in the effective capabilities, and RLIMIT_MEMLOCK's soft limit in bytes (null: unlimited).
/// </summary>
public sealed record LockRights(int EffectiveUid, bool CapIpcLock, long? MemlockLimit)
{
    /// <summary>The rule that applies: with CAP_IPC_LOCK no limit, without it the owner within RLIMIT_MEMLOCK.</summary>
    public string Rule => CapIpcLock
        ? "CAP_IPC_LOCK: any segment may be locked, RLIMIT_MEMLOCK does not apply"
        : MemlockLimit == 0 ? "no CAP_IPC_LOCK and RLIMIT_MEMLOCK is 0: SHM_LOCK fails with EPERM"
        : "no CAP_IPC_LOCK: the segment's owner or creator may lock, up to RLIMIT_MEMLOCK in total (ENOMEM beyond)";

    public override string ToString() =>
        $"euid {EffectiveUid}{(EffectiveUid == 0 ? " (root)" : "")}, CAP_IPC_LOCK {(CapIpcLock ? "yes" : "no")}, " +
        $"RLIMIT_MEMLOCK {(MemlockLimit is { } l ? $"{l:N0} bytes ({l / 1024.0 / 1024:0.##} MiB)" : "unlimited")}";
}

/// <summary>
/// shmat at an address that is not a multiple of SHMLBA: without SHM_RND it fails with <c>(void *) -1</c> and
/// <see cref="FailedErrno"/>; with SHM_RND the kernel rounds <see cref="Asked"/> down and attaches at <see cref="Rounded"/>.
/// </summary>
public sealed record RoundedAttach(long Shmlba, nint Free, nint Asked, nint FailedResult, int FailedErrno, nint Rounded)
{
    public bool FailedIsShmatFailed => FailedResult == SysVShm.SHMAT_FAILED;
    public bool RoundedDown => Rounded == Asked - (nint)(Asked % Shmlba);
}

/// <summary>Small views of System V details for lesson 10: the kernel's table, ipcs, lock rights, SHM_RND, a hex dump.</summary>
public static class SysVDetails
{
    /// <summary>The segment's line of /proc/sysvipc/shm, or null when there is none.</summary>
    public static SysvipcLine? Proc(int id) => ParseProc(File.ReadLines("/proc/sysvipc/shm")).FirstOrDefault(l => l.Id == id);

    /// <summary>Parses /proc/sysvipc/shm (key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap).</summary>
    public static IEnumerable<SysvipcLine> ParseProc(IEnumerable<string> lines)
    {
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 15) continue;
            long L(int i) => long.Parse(f[i], CultureInfo.InvariantCulture);
            yield return new SysvipcLine((int)L(0), (int)L(1), Convert.ToInt32(f[2], 8), L(3), (int)L(4), L(6), L(14));
        }
    }

    /// <summary>Who may lock, from /proc/self/status (Uid, CapEff) and /proc/self/limits (Max locked memory).</summary>
    public static LockRights Rights() => ParseRights(File.ReadLines("/proc/self/status"), File.ReadLines("/proc/self/limits"));

    /// <summary>CAP_IPC_LOCK is capability 14.</summary>
    public const int CapIpcLockBit = 14;

    public static LockRights ParseRights(IEnumerable<string> status, IEnumerable<string> limits)
    {
        var s = status.ToList();
        string Field(string name) => s.First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
        int euid = int.Parse(Field("Uid").Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        ulong caps = ulong.Parse(Field("CapEff"), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        string soft = limits.First(l => l.StartsWith("Max locked memory", StringComparison.Ordinal))["Max locked memory".Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return new LockRights(euid, (caps >> CapIpcLockBit & 1) != 0,
            soft == "unlimited" ? null : long.Parse(soft, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The header and the lines of <c>ipcs -m</c> whose shmid is one of <paramref name="ids"/>; null with
    /// <paramref name="missing"/> set when ipcs is not installed.
    /// </summary>
    public static IReadOnlyList<string>? Ipcs(IEnumerable<int> ids, out string? missing)
    {
        missing = null;
        string? ipcs = CPrograms.FindTool("ipcs");
        if (ipcs is null) { missing = "ipcs is not installed (Debian: apt-get install util-linux)"; return null; }
        var (code, stdout, stderr) = CPrograms.Exec(ipcs, ["-m"], TimeSpan.FromSeconds(10));
        if (code != 0) { missing = $"ipcs -m failed: {stderr.Trim()}"; return null; }
        var wanted = ids.Select(id => id.ToString(CultureInfo.InvariantCulture)).ToHashSet();
        return stdout.Split('\n')
            .Where(l => l.StartsWith("key ", StringComparison.Ordinal) || (l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var id, ..] && wanted.Contains(id)))
            .Select(l => l.TrimEnd()).ToList();
    }

    /// <summary>
    /// Finds a free address (attach with NULL, detach), then asks shmat for that address plus <paramref name="offset"/>
    /// (0 &lt; offset &lt; SHMLBA): once without SHM_RND (it fails), once with it (detached again at once).
    /// </summary>
    public static RoundedAttach AttachUnaligned(int id, int offset)
    {
        long lba = SysVShm.SHMLBA;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(offset, lba);
        for (int attempt = 0; ; attempt++)
        {
            nint free = FreeAddress(id);
            nint asked = free + offset;
            var (failed, errno) = SysVShm.AttachUnchecked(id, asked);
            if (failed != SysVShm.SHMAT_FAILED) SysVShm.Detach(failed); // cannot happen on Linux; never leave it attached
            var (rounded, roundErrno) = SysVShm.AttachUnchecked(id, asked, ShmatFlags.SHM_RND);
            if (rounded != SysVShm.SHMAT_FAILED)
            {
                SysVShm.Detach(rounded);
                return new RoundedAttach(lba, free, asked, failed, errno, rounded);
            }
            // Another thread mapped something at the free address in between (EINVAL): try another one.
            if (attempt == 4)
                throw new PosixException($"shmat(shmid={id}, shmaddr={CFormat.Hex(asked)}, shmflg=SHM_RND)", roundErrno);
        }
    }

    static nint FreeAddress(int id)
    {
        var (p, errno) = SysVShm.AttachUnchecked(id);
        if (p == SysVShm.SHMAT_FAILED) throw new PosixException($"shmat(shmid={id}, shmaddr=NULL, shmflg=0)", errno);
        SysVShm.Detach(p);
        return p;
    }

    /// <summary>Bytes as hex, 16 a line, with the printable characters beside them ('.' for the others).</summary>
    public static string HexDump(ReadOnlySpan<byte> bytes, int start = 0)
    {
        var sb = new System.Text.StringBuilder();
        for (int row = 0; row < bytes.Length; row += 16)
        {
            var line = bytes.Slice(row, Math.Min(16, bytes.Length - row));
            sb.Append(CultureInfo.InvariantCulture, $"{start + row,4}: ");
            for (int i = 0; i < 16; i++) sb.Append(i < line.Length ? $"{line[i]:x2} " : "   ");
            sb.Append(' ');
            foreach (byte b in line) sb.Append(b is >= 32 and < 127 ? (char)b : '.');
            sb.Append('\n');
        }
        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>A copy of the first <paramref name="count"/> bytes of the key's segment (attached read-only, then detached).</summary>
    public static byte[] FirstBytes(int key, int count)
    {
        using var a = SysVShm.Attach(SysVShm.Get(key, 0), ShmatFlags.SHM_RDONLY);
        return a.Span[..(int)Math.Min(count, a.Length)].ToArray();
    }
}

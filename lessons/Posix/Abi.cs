using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// What this layer assumes about the C side beyond its public enums: constants and struct layouts it keeps private,
/// each named by the C expression that gives the real value, so a test can compile those expressions against the
/// system headers and compare.
/// </summary>
public static class Abi
{
    /// <summary>(C expression, the value this layer uses), e.g. ("offsetof(struct shmid_ds, shm_segsz)", 48).</summary>
    public static IReadOnlyList<(string Expression, long Value)> Assumed { get; } =
    [
        ("_SC_PAGESIZE", SysConfName._SC_PAGESIZE),
        ("WNOHANG", WaitOptions.WNOHANG),
        ("sizeof(struct shmid_ds)", Marshal.SizeOf<ShmidDsNative>()),
        .. new[] { "shm_segsz", "shm_atime", "shm_dtime", "shm_ctime", "shm_cpid", "shm_lpid", "shm_nattch" }
            .Select(f => ($"offsetof(struct shmid_ds, {f})", Marshal.OffsetOf<ShmidDsNative>(f).ToInt64())),
        ("offsetof(struct shmid_ds, shm_perm.mode)", Marshal.OffsetOf<ShmidDsNative>("mode").ToInt64()),
        ("sizeof(struct rusage)", Marshal.SizeOf<RUsage>()),
        ("offsetof(struct rusage, ru_minflt)", Marshal.OffsetOf<RUsage>("ru_minflt").ToInt64()),
        ("sizeof(struct mallinfo2)", Marshal.SizeOf<MallInfo2>()),
        ("PR_SET_PDEATHSIG", Fork.PR_SET_PDEATHSIG),
        ("AT_FDCWD", Libc.AT_FDCWD),
        ("AT_SYMLINK_NOFOLLOW", Libc.AT_SYMLINK_NOFOLLOW),
        ("AT_EMPTY_PATH", Libc.AT_EMPTY_PATH),
        ("STATX_BASIC_STATS", Libc.STATX_BASIC_STATS),
        ("sizeof(struct statx)", Marshal.SizeOf<StatxNative>()),
        .. new[] { "stx_nlink", "stx_uid", "stx_mode", "stx_ino", "stx_size", "stx_dev_major", "stx_dev_minor" }
            .Select(f => ($"offsetof(struct statx, {f})", Marshal.OffsetOf<StatxNative>(f).ToInt64())),
    ];
}

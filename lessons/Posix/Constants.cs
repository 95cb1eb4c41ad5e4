namespace Lessons.Posix;

// Linux values, shared by x86-64 and arm64 (the kernel's generic ABI). Checked against the system headers
// by Lessons.Tests (a C probe compiled with cc). Names are the C macro names.
#pragma warning disable CA1069 // some C macros share values

/// <summary>Page protections for mmap and mprotect.</summary>
[Flags]
public enum Prot
{
    PROT_NONE = 0x0,
    PROT_READ = 0x1,
    PROT_WRITE = 0x2,
    PROT_EXEC = 0x4,
}

/// <summary>Flags for mmap.</summary>
[Flags]
public enum MapFlags
{
    MAP_SHARED = 0x01,
    MAP_PRIVATE = 0x02,
    MAP_FIXED = 0x10,
    MAP_ANONYMOUS = 0x20,
    MAP_NORESERVE = 0x4000,
    MAP_POPULATE = 0x8000,
    MAP_FIXED_NOREPLACE = 0x100000,
}

/// <summary>Advice for madvise.</summary>
public enum Advice
{
    MADV_NORMAL = 0,
    MADV_RANDOM = 1,
    MADV_SEQUENTIAL = 2,
    MADV_WILLNEED = 3,
    MADV_DONTNEED = 4,
    MADV_FREE = 8,
    MADV_HUGEPAGE = 14,
    MADV_NOHUGEPAGE = 15,
}

/// <summary>Flags for shm_open.</summary>
[Flags]
public enum OpenFlags
{
    O_RDONLY = 0x0,
    O_RDWR = 0x2,
    O_CREAT = 0x40,
    O_EXCL = 0x80,
    O_TRUNC = 0x200,
    O_NONBLOCK = 0x800,
}

/// <summary>Flags for shmget (the low 9 bits are the permission bits, e.g. 0600).</summary>
[Flags]
public enum IpcFlags
{
    None = 0,
    IPC_CREAT = 0x200,
    IPC_EXCL = 0x400,
}

/// <summary>Flags for shmat.</summary>
[Flags]
public enum ShmatFlags
{
    None = 0,
    SHM_RDONLY = 0x1000,
    SHM_RND = 0x2000,
}

/// <summary>Commands for shmctl.</summary>
public enum ShmCtlCommand
{
    IPC_RMID = 0,
    IPC_SET = 1,
    IPC_STAT = 2,
}

/// <summary>Signal numbers.</summary>
public enum Signal
{
    SIGHUP = 1,
    SIGINT = 2,
    SIGQUIT = 3,
    SIGILL = 4,
    SIGTRAP = 5,
    SIGABRT = 6,
    SIGBUS = 7,
    SIGFPE = 8,
    SIGKILL = 9,
    SIGUSR1 = 10,
    SIGSEGV = 11,
    SIGUSR2 = 12,
    SIGPIPE = 13,
    SIGALRM = 14,
    SIGTERM = 15,
    SIGCHLD = 17,
    SIGCONT = 18,
    SIGSTOP = 19,
}

/// <summary>Parameters for glibc's mallopt.</summary>
public enum MalloptParam
{
    M_MXFAST = 1,
    M_TRIM_THRESHOLD = -1,
    M_TOP_PAD = -2,
    M_MMAP_THRESHOLD = -3,
    M_MMAP_MAX = -4,
    M_ARENA_MAX = -8,
}

/// <summary>Whose resource usage getrusage reports.</summary>
public enum RUsageWho
{
    RUSAGE_SELF = 0,
    RUSAGE_CHILDREN = -1,
    RUSAGE_THREAD = 1,
}

static class SysConfName
{
    public const int _SC_PAGESIZE = 30;
}

static class WaitOptions
{
    public const int WNOHANG = 1;
}
#pragma warning restore CA1069

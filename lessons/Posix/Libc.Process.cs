using System.Runtime.InteropServices;

namespace Lessons.Posix;

static partial class Libc
{
    // pid_t fork(void);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int fork();

    // pid_t waitpid(pid_t pid, int *wstatus, int options);
    [LibraryImport(Name, SetLastError = true)]
    public static unsafe partial int waitpid(int pid, int* wstatus, int options);

    // void _exit(int status);
    [LibraryImport(Name, EntryPoint = "_exit")]
    public static partial void _exit(int status);

    // int kill(pid_t pid, int sig);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int kill(int pid, int sig);

    // int setpgid(pid_t pid, pid_t pgid);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int setpgid(int pid, int pgid);

    // sighandler_t signal(int signum, sighandler_t handler);
    [LibraryImport(Name, SetLastError = true)]
    public static partial nint signal(int signum, nint handler);

    /// <summary><c>SIG_DFL</c>: the default action.</summary>
    public const nint SIG_DFL = 0;
    /// <summary><c>SIG_ERR</c>: what signal() returns on failure.</summary>
    public const nint SIG_ERR = -1;

    // int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary><c>PR_SET_PDEATHSIG</c>: the signal this process gets when the thread that created it ends.</summary>
    public const int PR_SET_PDEATHSIG = 1;

    // pid_t getppid(void);
    [LibraryImport(Name)]
    public static partial int getppid();

    // int pidfd_open(pid_t pid, unsigned int flags);  (glibc 2.36, Linux 5.3; the descriptor is close-on-exec)
    [LibraryImport(Name, SetLastError = true)]
    public static partial int pidfd_open(int pid, uint flags);

    // int poll(struct pollfd *fds, nfds_t nfds, int timeout);
    [LibraryImport(Name, SetLastError = true)]
    public static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);

    /// <summary><c>POLLIN</c>: readable; a pidfd is readable once its process has exited.</summary>
    public const short POLLIN = 1;

    // int close(int fd);
    [LibraryImport(Name, SetLastError = true)]
    public static partial int close(int fd);

    // int getrusage(int who, struct rusage *usage);
    [LibraryImport(Name, SetLastError = true)]
    public static unsafe partial int getrusage(int who, RUsage* usage);
}

/// <summary><c>struct pollfd</c>: int fd, short events, short revents.</summary>
[StructLayout(LayoutKind.Sequential)]
struct PollFd
{
    public int fd;
    public short events, revents;
}

/// <summary><c>struct rusage</c> on 64-bit Linux: two <c>struct timeval</c> then fourteen <c>long</c>s.</summary>
[StructLayout(LayoutKind.Sequential)]
struct RUsage
{
    public long ru_utime_sec, ru_utime_usec, ru_stime_sec, ru_stime_usec;
    public long ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, ru_minflt, ru_majflt, ru_nswap,
        ru_inblock, ru_oublock, ru_msgsnd, ru_msgrcv, ru_nsignals, ru_nvcsw, ru_nivcsw;
}

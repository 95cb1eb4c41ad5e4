using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// The libc calls a forked child may make (see <see cref="ChildBody"/>): bare function pointers without a GC
/// transition, so the child compiles no stub, looks up no symbol and never polls for a GC whose thread it lacks.
/// The parent resolves them all when this class is first used. Calls that only a child may make (_exit, restoring
/// the default action of a fault signal) are not public: <see cref="Fork"/> makes them.
/// </summary>
public static unsafe class ChildSafe
{
    static readonly nint Library = NativeLibrary.Load("libc.so.6");

    static nint Export(string name) => NativeLibrary.GetExport(Library, name);

    // int sched_yield(void);
    /// <summary>sched_yield(): lets another runnable thread or process have the CPU.</summary>
    public static readonly delegate* unmanaged[SuppressGCTransition]<int> SchedYield =
        (delegate* unmanaged[SuppressGCTransition]<int>)Export("sched_yield");

    // pid_t getpid(void);
    /// <summary>getpid(): the calling process's id (in a child, the child's).</summary>
    public static readonly delegate* unmanaged[SuppressGCTransition]<int> GetPid =
        (delegate* unmanaged[SuppressGCTransition]<int>)Export("getpid");

    // int munmap(void *addr, size_t length);
    /// <summary>munmap(addr, length): 0, or -1 with errno set (read it with <see cref="ErrnoLocation"/>).</summary>
    public static readonly delegate* unmanaged[SuppressGCTransition]<nint, nuint, int> Munmap =
        (delegate* unmanaged[SuppressGCTransition]<nint, nuint, int>)Export("munmap");

    // void free(void *ptr);
    /// <summary>free(ptr): glibc aborts the process when ptr is not a block malloc returned.</summary>
    public static readonly delegate* unmanaged[SuppressGCTransition]<nint, void> Free =
        (delegate* unmanaged[SuppressGCTransition]<nint, void>)Export("free");

    // int *__errno_location(void);  (what the errno macro expands to in glibc)
    /// <summary>The calling thread's errno variable.</summary>
    public static readonly delegate* unmanaged[SuppressGCTransition]<int*> ErrnoLocation =
        (delegate* unmanaged[SuppressGCTransition]<int*>)Export("__errno_location");

    // int dup2(int oldfd, int newfd);
    /// <summary>dup2(oldfd, newfd): makes <c>newfd</c> refer to <c>oldfd</c>'s file (e.g. a child's stderr to a file).</summary>
    public static readonly delegate* unmanaged[SuppressGCTransition]<int, int, int> Dup2 =
        (delegate* unmanaged[SuppressGCTransition]<int, int, int>)Export("dup2");

    // pid_t getppid(void);
    internal static readonly delegate* unmanaged[SuppressGCTransition]<int> GetPpid =
        (delegate* unmanaged[SuppressGCTransition]<int>)Export("getppid");

    // void _exit(int status);
    internal static readonly delegate* unmanaged[SuppressGCTransition]<int, void> Exit =
        (delegate* unmanaged[SuppressGCTransition]<int, void>)Export("_exit");

    // sighandler_t signal(int signum, sighandler_t handler);
    internal static readonly delegate* unmanaged[SuppressGCTransition]<int, nint, nint> SetSignal =
        (delegate* unmanaged[SuppressGCTransition]<int, nint, nint>)Export("signal");

    // int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);
    internal static readonly delegate* unmanaged[SuppressGCTransition]<int, nint, nint, nint, nint, int> Prctl =
        (delegate* unmanaged[SuppressGCTransition]<int, nint, nint, nint, nint, int>)Export("prctl");
}

namespace Lessons.Posix;

/// <summary>Checked wrappers for kill, waitpid and the parent-death signal.</summary>
public static class Signals
{
    /// <summary>
    /// True if <paramref name="pid"/> exists: kill(pid, 0) sends nothing and only checks (it succeeds, or fails with
    /// EPERM for a process that exists but is not ours).
    /// </summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        Checked.RequireLinux("kill");
        if (Libc.kill(pid, 0) == 0) return true;
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return errno == (int)Errno.EPERM ? true
            : errno == (int)Errno.ESRCH ? false
            : throw new PosixException($"kill(pid={pid}, sig=0)", errno);
    }

    /// <summary>kill(pid, sig).</summary>
    public static void Kill(int pid, Signal sig)
    {
        Checked.RequireLinux("kill");
        if (Libc.kill(pid, (int)sig) != 0)
            throw PosixException.FromLastError($"kill(pid={pid}, sig={sig})");
    }

    /// <summary>
    /// setpgid(0, 0): this process leads a new process group, numbered with its pid, so that whoever started it can
    /// signal it and everything it forked at once (<see cref="KillGroup"/>).
    /// </summary>
    public static void LeadNewProcessGroup()
    {
        Checked.RequireLinux("setpgid");
        if (Libc.setpgid(0, 0) != 0)
            throw PosixException.FromLastError("setpgid(pid=0, pgid=0)");
    }

    /// <summary>kill(-pgid, sig): every process of the group; false when none is left (ESRCH).</summary>
    public static bool KillGroup(int pgid, Signal sig)
    {
        if (pgid <= 1) throw new ArgumentOutOfRangeException(nameof(pgid), pgid, "a process group id is above 1");
        Checked.RequireLinux("kill");
        if (Libc.kill(-pgid, (int)sig) == 0) return true;
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        return errno == (int)Errno.ESRCH ? false : throw new PosixException($"kill(pid=-{pgid}, sig={sig})", errno);
    }

    /// <summary>waitpid(pid, &amp;status, 0 or WNOHANG): how the child ended, or null with WNOHANG when it still runs.</summary>
    public static unsafe ChildOutcome? Waitpid(int pid, bool noHang = false)
    {
        Checked.RequireLinux("waitpid");
        int status;
        int r;
        do r = Libc.waitpid(pid, &status, noHang ? WaitOptions.WNOHANG : 0);
        while (r < 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
        if (r < 0)
            throw PosixException.FromLastError($"waitpid(pid={pid}, options={(noHang ? "WNOHANG" : "0")})",
                "only a parent can wait for its own children");
        if (r == 0) return null;
        Fork.Forget(r);
        return ChildOutcome.FromStatus(r, status, 0);
    }

    /// <summary>getppid(): the parent's pid (1, or a subreaper's, once the parent has died).</summary>
    public static int ParentPid
    {
        get
        {
            Checked.RequireLinux("getppid");
            return Libc.getppid();
        }
    }

    /// <summary>
    /// prctl(PR_SET_PDEATHSIG, sig): the kernel sends <paramref name="sig"/> to this process when the thread that
    /// created it ends, whatever ended it (SIGKILL included). A parent that died before the call sends nothing: check
    /// <see cref="ParentPid"/> right after.
    /// </summary>
    public static void SetParentDeathSignal(Signal sig)
    {
        Checked.RequireLinux("prctl");
        if (Libc.prctl(Libc.PR_SET_PDEATHSIG, (nuint)(int)sig, 0, 0, 0) != 0)
            throw PosixException.FromLastError($"prctl(PR_SET_PDEATHSIG, sig={sig})");
    }
}

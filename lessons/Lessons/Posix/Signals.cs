namespace Lessons.Posix;

/// <summary>Checked wrappers for kill, signal(SIG_DFL), waitpid and _exit.</summary>
public static class Signals
{
    /// <summary>kill(pid, sig).</summary>
    public static void Kill(int pid, Signal sig)
    {
        Checked.RequireLinux("kill");
        if (Libc.kill(pid, (int)sig) != 0)
            throw PosixException.FromLastError($"kill(pid={pid}, sig={sig})");
    }

    /// <summary>signal(sig, SIG_DFL): the default action again (for SIGSEGV: the process dies, as in C).</summary>
    public static void RestoreDefault(Signal sig)
    {
        Checked.RequireLinux("signal");
        if (Libc.signal((int)sig, Libc.SIG_DFL) == Libc.SIG_ERR)
            throw PosixException.FromLastError($"signal(signum={sig}, handler=SIG_DFL)");
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

    /// <summary>_exit(status): ends the process at once (no finalizers, no flushing). For forked children.</summary>
    public static void Exit(int status) => Libc._exit(status);
}

namespace Lessons.Posix;

/// <summary>Checked wrappers for kill, waitpid and the parent-death signal.</summary>
public static class Signals
{
    /// <summary>
    /// True if <paramref name="pid"/> runs: kill(pid, 0) sends nothing and only checks (it succeeds, or fails with
    /// EPERM for a process that exists but is not ours), and a zombie (killed, not yet reaped by its parent, state Z in
    /// /proc/PID/stat) does not count: it runs no code and holds no memory.
    /// </summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        Checked.RequireLinux("kill");
        if (Libc.kill(pid, 0) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            return errno == (int)Errno.EPERM ? !IsDead(pid)
                : errno == (int)Errno.ESRCH ? false
                : throw new PosixException($"kill(pid={pid}, sig=0)", errno);
        }
        return !IsDead(pid);
    }

    /// <summary>
    /// Gone by the time its /proc entry is read, or a zombie (state Z or X) with no thread left: a killed process's
    /// first thread shows Z while its other threads still exit, holding its memory (and its System V attachments).
    /// </summary>
    static bool IsDead(int pid) => Stat(pid) is not { } stat || (stat.State is 'Z' or 'X' && !HasOtherThreads(pid));

    static bool HasOtherThreads(int pid)
    {
        try { return Directory.EnumerateDirectories($"/proc/{pid}/task").Take(2).Count() > 1; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>A process's state and process group from /proc/PID/stat (after the command's closing parenthesis).</summary>
    static (char State, int Group)? Stat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        // fields: state ppid pgrp …
        return fields.Length > 2 && int.TryParse(fields[2], System.Globalization.CultureInfo.InvariantCulture, out int group)
            ? (fields[0][0], group) : null;
    }

    /// <summary>The running processes of group <paramref name="pgid"/> (zombies without threads left out), from /proc.</summary>
    public static IReadOnlyList<int> GroupMembers(int pgid)
    {
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture, out int pid)
                && Stat(pid) is { } stat && stat.Group == pgid && !IsDead(pid))
                members.Add(pid);
        return members;
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

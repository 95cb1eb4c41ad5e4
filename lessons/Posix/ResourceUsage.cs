namespace Lessons.Posix;

/// <summary>getrusage: CPU time, peak memory and page faults.</summary>
public sealed record ResourceUsage(
    TimeSpan UserTime, TimeSpan SystemTime, long MaxResidentKiB,
    long MinorFaults, long MajorFaults, long VoluntaryContextSwitches, long InvoluntaryContextSwitches)
{
    public static unsafe ResourceUsage Get(RUsageWho who = RUsageWho.RUSAGE_SELF)
    {
        Checked.RequireLinux("getrusage");
        RUsage u;
        if (Libc.getrusage((int)who, &u) != 0)
            throw PosixException.FromLastError($"getrusage(who={who})");
        return new ResourceUsage(
            TimeSpan.FromMicroseconds(u.ru_utime_sec * 1_000_000 + u.ru_utime_usec),
            TimeSpan.FromMicroseconds(u.ru_stime_sec * 1_000_000 + u.ru_stime_usec),
            u.ru_maxrss, u.ru_minflt, u.ru_majflt, u.ru_nvcsw, u.ru_nivcsw);
    }
}

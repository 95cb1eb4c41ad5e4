using System.Diagnostics;
using Lessons.Posix;

namespace TestTools;

/// <summary>
/// Counts of System V attachments, read while tests run in parallel: a child that a parallel test forks inherits
/// this process's attachments (shm_nattch goes up, and a removed segment lives on) until it exits a moment later.
/// </summary>
static class Settled
{
    /// <summary>What <paramref name="read"/> returns once it equals <paramref name="expected"/>, or after 10 s.</summary>
    public static T Value<T>(Func<T> read, T expected)
    {
        var clock = Stopwatch.StartNew();
        T value;
        while (!EqualityComparer<T>.Default.Equals(value = read(), expected) && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(10);
        return value;
    }

    /// <summary>The errno of IPC_STAT on <paramref name="id"/> once the segment is gone (null while it still exists after 10 s).</summary>
    public static Errno? Removed(int id) => Value(() =>
    {
        try { SysVShm.Stat(id); return (Errno?)null; }
        catch (PosixException e) { return e.Errno; }
    }, Errno.EINVAL);
}

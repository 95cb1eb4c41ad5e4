namespace Lessons.Posix;

/// <summary>Which thread and process this is.</summary>
public static class Threads
{
    /// <summary>True on the process's main thread: gettid() == getpid().</summary>
    public static bool OnMainThread
    {
        get
        {
            Checked.RequireLinux("gettid");
            return Libc.gettid() == Libc.getpid();
        }
    }
}

namespace Lessons.Posix;

/// <summary>sysconf values.</summary>
public static class SysConf
{
    static long pageSize;

    /// <summary>sysconf(_SC_PAGESIZE): the size of a page in bytes.</summary>
    public static long PageSize
    {
        get
        {
            if (pageSize == 0)
            {
                Checked.RequireLinux("sysconf");
                long n = Libc.sysconf(SysConfName._SC_PAGESIZE);
                if (n <= 0)
                    throw PosixException.FromLastError("sysconf(_SC_PAGESIZE)");
                pageSize = n;
            }
            return pageSize;
        }
    }
}

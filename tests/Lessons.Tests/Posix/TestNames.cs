using Lessons.Posix;

namespace Lessons.Tests.Posix;

/// <summary>Unique System V keys and /dev/shm names, so tests run in parallel and on shared machines.</summary>
static class TestNames
{
    public static int FreshKey()
    {
        while (true)
        {
            int key = 0x5700_0000 | Random.Shared.Next(1, 0xff_ffff);
            try { SysVShm.Get(key, 0); }
            catch (PosixException e) when (e.Errno == Errno.ENOENT) { return key; }
        }
    }

    public static string FreshShmName() => $"/workbook-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
}

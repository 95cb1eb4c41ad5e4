using Lessons.L10_SysvUptime;
using Lessons.Posix;
using Lessons.Tests.Posix;
using TestTools;

namespace Lessons.Tests.L10_SysvUptime;

public class SysVDetailsTests
{
    [Fact]
    public void Proc_reads_the_size_asked_for_and_the_resident_bytes_in_whole_pages()
    {
        using var seg = OwnedSegment.Create(TestNames.FreshKey(), 5000);
        using (var a = seg.Attach())
        {
            Assert.Equal(0, SysVDetails.Proc(seg.Id)!.Rss);
            a.Span[0] = 1;
            a.Span[4999] = 1;
            var line = SysVDetails.Proc(seg.Id)!;
            Assert.Equal((seg.Key, 5000L, 0x180, Environment.ProcessId), (line.Key, line.Size, line.Perms, line.CreatorPid));
            Assert.Equal(1L, Settled.Value(() => SysVDetails.Proc(seg.Id)!.Attachments, 1L));
            Assert.Equal(2 * SysConf.PageSize, line.Rss);
        }
        int id = seg.Id;
        seg.Dispose();
        Assert.Null(Settled.Value(() => SysVDetails.Proc(id), null));
    }

    [Fact]
    public void ParseProc_reads_the_kernel_table()
    {
        var lines = SysVDetails.ParseProc([
            "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap",
            "         0      98326   640                  5000 21399 21400      1     0     0     0     0 1796403556          0 1796403556                  8192                     0",
        ]).Single();
        Assert.Equal(new SysvipcLine(0, 98326, 0x1a0, 5000, 21399, 1, 8192), lines);
    }

    [Fact]
    public void ParseRights_reads_the_effective_uid_CAP_IPC_LOCK_and_the_soft_memlock_limit()
    {
        string[] limits = ["Limit                     Soft Limit           Hard Limit           Units     ",
            "Max locked memory         8388608              16777216             bytes     "];
        var user = SysVDetails.ParseRights(["Name:\tx", "Uid:\t1000\t1001\t1000\t1000", "CapEff:\t0000000000000000"], limits);
        Assert.Equal(new LockRights(1001, false, 8388608), user);
        Assert.Contains("RLIMIT_MEMLOCK", user.Rule);
        var root = SysVDetails.ParseRights(["Uid:\t0\t0\t0\t0", "CapEff:\t000001fffeffffff"],
            ["Max locked memory         unlimited            unlimited            bytes     "]);
        Assert.Equal(new LockRights(0, true, null), root);
        Assert.StartsWith("CAP_IPC_LOCK", root.Rule);
        Assert.Contains("EPERM", (user with { MemlockLimit = 0 }).Rule);
        _ = SysVDetails.Rights(); // this machine's /proc parses
    }

    [Fact]
    public void Ipcs_lists_a_segment_by_id_until_it_is_removed()
    {
        using var seg = OwnedSegment.Create(TestNames.FreshKey(), 256);
        int id = seg.Id;
        var lines = SysVDetails.Ipcs([id], out var missing) ?? throw new InvalidOperationException(missing);
        Assert.StartsWith("key ", lines[0]);
        Assert.Single(lines, l => l.Contains($" {id} ") && l.StartsWith($"0x{seg.Key:x8} "));
        seg.Dispose();
        Assert.Equal(["key"], SysVDetails.Ipcs([id], out _)!.Select(l => l.Split(' ')[0]));
    }

    [Fact]
    public void An_unaligned_address_fails_with_minus_1_and_EINVAL_and_SHM_RND_rounds_it_down()
    {
        using var seg = OwnedSegment.Create(TestNames.FreshKey(), 256);
        var r = SysVDetails.AttachUnaligned(seg.Id, 123);
        Assert.Equal(SysConf.PageSize, r.Shmlba);
        Assert.True(r.FailedIsShmatFailed);
        Assert.Equal((nint)(-1), r.FailedResult);
        Assert.Equal((int)Errno.EINVAL, r.FailedErrno);
        Assert.Equal(r.Free + 123, r.Asked);
        Assert.True(r.RoundedDown);
        Assert.Equal(0, r.Free % r.Shmlba);
        Assert.Equal(0L, Settled.Value(() => seg.Stat().Attachments, 0L)); // everything detached
        Assert.Throws<ArgumentOutOfRangeException>(() => SysVDetails.AttachUnaligned(seg.Id, 4096));
    }

    [Fact]
    public void HexDump_and_FirstBytes()
    {
        Assert.Equal("   0: 30 31 3a 00 ff                                   01:..", SysVDetails.HexDump([0x30, 0x31, 0x3a, 0, 0xff]));
        Assert.Equal(2, SysVDetails.HexDump(new byte[17]).Split('\n').Length);
        using var seg = OwnedSegment.Create(TestNames.FreshKey(), 256);
        using (var a = seg.Attach()) "12:34:56\0"u8.CopyTo(a.Span);
        Assert.Equal("12:34:56\0\0"u8.ToArray(), SysVDetails.FirstBytes(seg.Key, 10));
        Assert.Equal(0L, Settled.Value(() => seg.Stat().Attachments, 0L));
    }
}

public class CShmLockTests
{
    [TestTools.RequiresTool(TestTools.Tool.CCompiler, TestTools.Tool.RootSetpriv)]
    public void As_nobody_SHM_LOCK_works_within_RLIMIT_MEMLOCK_and_fails_with_ENOMEM_beyond_it()
    {
        var rights = SysVDetails.Rights();
        Assert.True(rights.MemlockLimit is { } l && l >= SysConf.PageSize,
            $"RLIMIT_MEMLOCK must be finite and at least a page for this test; it is {rights.MemlockLimit?.ToString() ?? "unlimited"}");
        long limit = rights.MemlockLimit!.Value;
        var outcome = CShmLock.RunAsNobody([SysConf.PageSize, 2 * limit], out var missing) ?? throw new InvalidOperationException(missing);
        Assert.Equal("ok", outcome[SysConf.PageSize]);
        Assert.Equal("ENOMEM", outcome[2 * limit]);
    }
}

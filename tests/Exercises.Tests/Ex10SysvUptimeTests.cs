using System.Diagnostics;
using Exercises;
using Grading;
using Lessons;
using Lessons.L10_SysvUptime;
using Lessons.Posix;

namespace Exercises.Tests;

/// <summary>
/// The student's server against the workbook's <c>uptime-client</c>, the student's client against the workbook's
/// <c>uptime-server</c> (real processes), and after each test no segment with its key in <c>ipcs -m</c>.
/// </summary>
public class Ex10SysvUptimeTests
{
    static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "Workbook.dll");

    static CliRun Cli(params string[] args) => WorkbookCli.Run(args, Dll);

    static int FreshKey()
    {
        while (true)
        {
            int key = UptimeProcesses.UniqueKey();
            if (!UptimeProcesses.SegmentExists(key)) return key;
        }
    }

    // ipcs -m lists no segment with this key (ipcs prints keys as 0x%08x).
    /// <summary>The segment's attach count once it is <paramref name="expected"/> or 10 s have passed (see <see cref="TestTools.Settled"/>).</summary>
    static long SettledAttachments(int key, long expected) => TestTools.Settled.Value(() => UptimeProcesses.Status(key)!.Attachments, expected);

    static void AssertIpcsClean(int key)
    {
        var info = new ProcessStartInfo("ipcs", "-m") { RedirectStandardOutput = true, UseShellExecute = false };
        using var ipcs = Process.Start(info)!;
        string listing = ipcs.StandardOutput.ReadToEnd();
        ipcs.WaitForExit();
        Assert.DoesNotContain($"0x{key:x8}", listing);
        Assert.False(UptimeProcesses.SegmentExists(key), $"a segment with key 0x{key:x8} was left behind");
    }

    // Removes what a failing student solution may have left, so a failed test leaks nothing either.
    static void CleanUp(int key)
    {
        try { SysVShm.Remove(SysVShm.Get(key, 0)); }
        catch (PosixException) { }
    }

    [Fact, Graded(lesson: 10, points: 3)]
    public void The_servers_segment_is_read_by_the_workbooks_client_and_removed_on_stop()
    {
        int key = FreshKey();
        try
        {
            var server = Ex10SysvUptime.StartServer(key, 256);
            var st = SysVShm.Stat(server.Id);
            Assert.Equal((key, 256L, 0x180), (st.Key, st.Size, st.Mode)); // the key, the size and 0600
            Assert.Equal(1L, SettledAttachments(key, 1));
            Assert.False(server.Attachment.ReadOnly, "the server writes: attach read-write");
            UptimeClock.WriteTick(server.Attachment.Span, TimeSpan.FromSeconds(3723));
            var run = Cli("uptime-client", "--key", CFormat.Hex(key), "--count", "1");
            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("Timer is : [01:02:03]", run.Stdout);
            Ex10SysvUptime.StopServer(server);
            Assert.True(server.Attachment.IsClosed, "StopServer detaches (shmdt)");
            var late = Cli("uptime-client", "--key", CFormat.Hex(key), "--count", "1");
            Assert.Equal(1, late.ExitCode); // shmget: ENOENT
            AssertIpcsClean(key);
        }
        finally { CleanUp(key); }
    }

    [Fact, Graded(lesson: 10, points: 3)]
    public void The_client_reads_the_workbooks_server_read_only_and_detaches()
    {
        int key = FreshKey();
        using (var server = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll))
        {
            var client = Ex10SysvUptime.AttachClient(key);
            Assert.True(client.ReadOnly, "the client attaches with SHM_RDONLY");
            Assert.Equal(2L, SettledAttachments(key, 2)); // the server and this client
            var clock = Stopwatch.StartNew();
            var first = UptimeClock.ReadConsistent(client.Span)!;
            while (first.Sequence == 0 && clock.Elapsed < TimeSpan.FromSeconds(20)) // attached, but no tick written yet
            {
                Thread.Sleep(20);
                first = UptimeClock.ReadConsistent(client.Span)!;
            }
            Assert.InRange(first.Seconds, 0, 86_399);
            clock.Restart();
            var later = first;
            while (later.Sequence == first.Sequence && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                Thread.Sleep(20);
                later = UptimeClock.ReadConsistent(client.Span)!;
            }
            Assert.True(later.Sequence > first.Sequence, "the client sees the server's ticks");
            Ex10SysvUptime.DetachClient(client);
            Assert.True(client.IsClosed);
            Assert.Equal(1L, SettledAttachments(key, 1)); // only the server is left
            Assert.Equal(0, server.Stop());
        }
        AssertIpcsClean(key);
    }

    [Fact, Graded(lesson: 10, points: 2)]
    public void A_taken_key_and_a_missing_key_are_errors()
    {
        int key = FreshKey();
        int other = SysVShm.Get(key, 4096, IpcFlags.IPC_CREAT | IpcFlags.IPC_EXCL, 0x180); // another program's segment, another size
        try
        {
            var e = Assert.Throws<PosixException>(() => Ex10SysvUptime.StartServer(key, 256));
            Assert.Equal(Errno.EEXIST, e.Errno);
            Assert.Equal(4096, SysVShm.Stat(other).Size); // left alone: not the server's to remove
        }
        finally { SysVShm.Remove(other); }
        var missing = Assert.Throws<PosixException>(() => Ex10SysvUptime.AttachClient(key));
        Assert.Equal(Errno.ENOENT, missing.Errno);
        AssertIpcsClean(key);
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 10, points: 2, Hidden = true)]
    public void Bad_arguments_create_nothing_and_a_small_segment_is_refused_and_detached()
    {
        int key = FreshKey();
        try
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => Ex10SysvUptime.StartServer(key, UptimeLayout.MinimumSize - 1));
            Assert.False(UptimeProcesses.SegmentExists(key));
            Assert.Throws<ArgumentOutOfRangeException>(() => Ex10SysvUptime.StartServer(SysVShm.IPC_PRIVATE, 256));
            using var small = OwnedSegment.Create(key, 16);
            Assert.Throws<InvalidOperationException>(() => Ex10SysvUptime.AttachClient(key));
            Assert.Equal(0L, SettledAttachments(key, 0)); // it detached again
        }
        finally { CleanUp(key); }
        AssertIpcsClean(key);
    }

    [Fact, Graded(lesson: 10, points: 1, Hidden = true)]
    public void The_workbooks_server_refuses_the_students_live_key_and_a_restart_works()
    {
        int key = FreshKey();
        try
        {
            var server = Ex10SysvUptime.StartServer(key, UptimeLayout.MinimumSize);
            var clash = Cli("uptime-server", "--key", CFormat.Hex(key), "--ticks", "1");
            Assert.Equal(1, clash.ExitCode); // this process, the segment's creator, is alive
            Ex10SysvUptime.StopServer(server);
            var again = Ex10SysvUptime.StartServer(key, 256); // the key is free again at once
            Assert.Equal(256, SysVShm.Stat(again.Id).Size);
            Ex10SysvUptime.StopServer(again);
        }
        finally { CleanUp(key); }
        AssertIpcsClean(key);
    }
    // END HIDDEN TESTS
}

using Lessons;
using Lessons.L10_SysvUptime;
using Lessons.Posix;

namespace Workbook.Tests;

/// <summary>
/// Lesson 10's up-time server and client as real processes (each test has its own key 0x5A……): the timer
/// increases, a restarted client sees it kept going, SIGINT/SIGTERM remove the segment, SIGKILL leaves it for
/// the next server to take over, and nothing is left behind.
/// </summary>
public class UptimeCommandTests
{
    static string Dll => CommandLineTests.WorkbookDll;

    static CliRun Cli(params string[] args) => WorkbookCli.Run(args, Dll);

    static string Hex(int key) => $"0x{key:x}";

    static List<int> Seconds(CliRun r) =>
        r.Stdout.Split('\n').Where(l => l.StartsWith("Timer is : [")).Select(l => UptimeClock.ParseSeconds(l[12..20])).ToList();

    [Fact]
    public void A_client_with_no_server_says_so_and_fails()
    {
        int key = UptimeProcesses.UniqueKey();
        var r = Cli("uptime-client", "--key", Hex(key), "--count", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("ENOENT", r.Stderr);
        Assert.Contains("is the server running?", r.Stderr);
        Assert.Equal(1, Cli("uptime-status", "--key", Hex(key)).ExitCode);
    }

    [Fact]
    public void Bad_options_are_usage_errors()
    {
        var r = Cli("uptime-server", "--size", "10");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--size must be between 96", r.Stderr);
        Assert.Equal(2, Cli("uptime-client", "--key", "0xZZ").ExitCode);
        Assert.Equal(2, Cli("uptime-server", "--mode", "0999").ExitCode);
    }

    [Fact]
    public void The_timer_increases_and_a_restarted_client_sees_it_kept_going()
    {
        int key = UptimeProcesses.UniqueKey();
        using var server = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll);
        var first = Cli("uptime-client", "--key", Hex(key), "--count", "3", "--interval-ms", "700");
        Assert.Equal(0, first.ExitCode);
        var a = Seconds(first);
        Assert.Equal(3, a.Count);
        Assert.True(a.Zip(a.Skip(1)).All(p => p.First <= p.Second) && a[^1] > a[0], first.Stdout);

        // Not a fixed sleep: read the segment until the server's timer has passed the first client's last reading.
        using (var watch = UptimeClient.TryOpen(key))
        {
            Assert.NotNull(watch);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!(watch.Read()?.Seconds > a[^1]) && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        }
        var second = Cli("uptime-client", "--key", Hex(key), "--count", "1");
        var b = Seconds(second);
        Assert.True(b.Single() > a[^1], $"{first.Stdout}\nthen\n{second.Stdout}");

        var status = Cli("uptime-status", "--key", Hex(key));
        Assert.Contains($"creator pid  {server.Pid} (alive)", status.Stdout);
        Assert.Contains("attached     1", status.Stdout); // only the server: the clients detached
        Assert.Contains("size         256", status.Stdout);
        Assert.Contains("mode         0600", status.Stdout);

        Assert.Equal(0, server.Stop(Signal.SIGTERM));
        Assert.Contains("uptime-server: SIGTERM: detaching and removing the segment", server.Output);
        Assert.False(UptimeProcesses.SegmentExists(key));
    }

    [Theory]
    [InlineData(Signal.SIGTERM)]
    [InlineData(Signal.SIGINT)]
    public async Task A_signalled_server_removes_its_segment_and_its_client_stops_cleanly(Signal signal)
    {
        int key = UptimeProcesses.UniqueKey();
        using var server = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll);
        var client = Task.Run(() => Cli("uptime-client", "--key", Hex(key), "--count", "200", "--interval-ms", "100"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (UptimeProcesses.Status(key)?.Attachments < 2 && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(20);
        Assert.Equal(2, UptimeProcesses.Status(key)?.Attachments);
        Thread.Sleep(500); // five of the client's intervals: it has printed readings, even on a loaded machine

        Assert.Equal(0, server.Stop(signal));
        Assert.Contains($"uptime-server: {signal}: detaching and removing the segment", server.Output);
        Assert.False(UptimeProcesses.SegmentExists(key), $"segment {Hex(key)} was left behind after {signal}");
        var r = await client;
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("went away", r.Stdout);
        Assert.NotEmpty(Seconds(r));
    }

    [Fact]
    public void After_SIGKILL_the_segment_stays_and_the_next_server_takes_it_over()
    {
        int key = UptimeProcesses.UniqueKey();
        try
        {
            int killedPid;
            using (var killed = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll))
            {
                killedPid = killed.Pid;
                killed.Stop(Signal.SIGKILL);
            }
            var left = UptimeProcesses.Status(key);
            Assert.NotNull(left); // SIGKILL runs no clean-up
            Assert.Equal(killedPid, left.CreatorPid);
            Assert.Equal(0, left.Attachments);
            Assert.Contains($"creator pid  {killedPid} (dead)", Cli("uptime-status", "--key", Hex(key)).Stdout);

            var stale = Cli("uptime-client", "--key", Hex(key), "--count", "3", "--interval-ms", "100");
            Assert.Equal(0, stale.ExitCode);
            Assert.Contains("went away", stale.Stdout);

            using var next = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll);
            Assert.Contains(next.Output, l => l.Contains($"took over segment {left.Id}") && l.Contains($"pid {killedPid}, is dead"));

            var refused = Cli("uptime-server", "--key", Hex(key), "--ticks", "1");
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("is in use", refused.Stderr);

            var client = Cli("uptime-client", "--key", Hex(key), "--count", "2", "--interval-ms", "1100");
            Assert.Equal(2, Seconds(client).Count);
            Assert.Contains($"server pid   {next.Pid} (alive)", Cli("uptime-status", "--key", Hex(key)).Stdout);
            Assert.Equal(0, next.Stop(Signal.SIGTERM));
            Assert.False(UptimeProcesses.SegmentExists(key), "the adopting server did not remove the segment");
        }
        finally
        {
            if (UptimeProcesses.SegmentExists(key)) SysVShm.Remove(SysVShm.Get(key, 0));
        }
    }

    /// <summary>
    /// A segment made by a process that has ended (perl's shmget), so its creator is dead: the test's own, removed by it.
    /// Returns its id; <paramref name="fill"/> is written into it first.
    /// </summary>
    static int ForeignSegment(int key, long size, int mode, byte? fill = null)
    {
        var (code, stdout, stderr) = CPrograms.Exec("/usr/bin/perl",
            ["-e", $"my $id = shmget({key}, {size}, 512|1024|0600); die \"shmget: $!\" unless defined $id; print $id"], TimeSpan.FromSeconds(30));
        Assert.True(code == 0, stderr);
        int id = int.Parse(stdout);
        if (fill is { } b)
            using (var a = SysVShm.Attach(id)) a.Span.Fill(b);
        SysVShm.SetMode(id, mode);
        Assert.False(Signals.IsAlive(SysVShm.Stat(id).CreatorPid));
        return id;
    }

    [Theory]
    [InlineData(4096, 0x000, null)]   // mode 0000
    [InlineData(4096, 0x124, null)]   // mode 0444
    [InlineData(4096, 0x180, 0x01)]   // 4 KiB of 0x01: its "server pid" reads 16843009
    [InlineData(256, 0x180, 0x00)]    // the workbook's size, all zero: no marker
    [InlineData(64, 0x180, null)]     // too small for the layout
    public void A_segment_without_the_workbooks_marker_is_left_alone_whoever_made_it(long size, int mode, int? fill)
    {
        int key = UptimeProcesses.UniqueKey();
        int id = ForeignSegment(key, size, mode, (byte?)fill);
        try
        {
            var before = SysVShm.Stat(id);
            var r = Cli("uptime-server", "--key", Hex(key), "--ticks", "1", "--interval-ms", "10");
            Assert.Equal(1, r.ExitCode);
            Assert.Contains($"has segment {id} ({size} bytes, mode {CFormat.Octal(mode)}, owner uid {before.OwnerUid}, creator pid {before.CreatorPid} dead)", r.Stderr);
            Assert.Contains(size < UptimeLayout.MinimumSize ? "too small for it" : "marker missing", r.Stderr);
            Assert.Contains("left alone", r.Stderr);
            Assert.DoesNotContain("--size", r.Stderr); // advice only names what the command accepts
            var load = Cli("uptime-load", "--key", Hex(key), "--clients", "1", "--seconds", "1");
            Assert.Equal(1, load.ExitCode);
            Assert.Contains("marker", load.Stderr);
            Assert.DoesNotContain("--size", load.Stderr);

            var after = SysVShm.Stat(id); // still there, unchanged
            Assert.Equal((before.Size, before.Mode, before.CreatorPid, before.LastChange), (after.Size, after.Mode, after.CreatorPid, after.LastChange));
            if (fill is { } b)
                using (var a = SysVShm.Attach(id, ShmatFlags.SHM_RDONLY))
                    Assert.True(a.Span.IndexOfAnyExcept((byte)b) < 0, "the foreign segment was written");
        }
        finally
        {
            SysVShm.Remove(id);
        }
    }

    [Fact]
    public async Task Servers_started_together_on_a_stale_segment_have_exactly_one_winner()
    {
        int key = UptimeProcesses.UniqueKey();
        try
        {
            int killedPid, staleId;
            using (var killed = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll))
            {
                killedPid = killed.Pid;
                killed.Stop(Signal.SIGKILL);
            }
            staleId = SysVShm.Get(key, 0);
            const int servers = 4;
            using var go = new Barrier(servers);
            var runs = Enumerable.Range(0, servers).Select(_ => Task.Run(() =>
            {
                go.SignalAndWait();
                return Cli("uptime-server", "--key", Hex(key), "--ticks", "30", "--interval-ms", "100");
            })).ToArray();
            var all = await Task.WhenAll(runs);
            string report = string.Join("\n---\n", all.Select(r => $"exit {r.ExitCode}\n{r.Stdout}{r.Stderr}"));
            var winners = all.Where(r => r.ExitCode == 0).ToList();
            Assert.True(winners.Count == 1, report);
            Assert.Contains($"took over segment {staleId}", winners[0].Stdout);
            Assert.Contains($"pid {killedPid}, is dead", winners[0].Stdout);
            foreach (var loser in all.Where(r => r.ExitCode != 0))
            {
                Assert.Equal(1, loser.ExitCode);
                Assert.True(loser.Stderr.Contains("is in use") || loser.Stderr.Contains("over first"), report);
                Assert.DoesNotContain("took over", loser.Stdout);
            }
            Assert.False(UptimeProcesses.SegmentExists(key), "the winner did not remove the segment");
        }
        finally
        {
            if (UptimeProcesses.SegmentExists(key)) SysVShm.Remove(SysVShm.Get(key, 0));
        }
    }

    [Fact]
    public void A_key_of_0x80000000_or_more_prints_as_32_bits_and_that_form_is_accepted()
    {
        int key = unchecked((int)0xA500_0000) | Random.Shared.Next(1, 0xff_ffff);
        string hex = $"0x{(uint)key:x}";
        using var server = UptimeProcesses.StartServer(key, intervalMs: 100, workbookDll: Dll); // passes CFormat.Hex(key)
        Assert.Contains(server.Output, l => l.Contains($"key={hex}"));
        var status = Cli("uptime-status", "--key", hex);
        Assert.Contains($"key          {hex}", status.Stdout);
        Assert.Equal(0, Cli("uptime-client", "--key", hex, "--count", "1").ExitCode);
        Assert.Equal(0, server.Stop(Signal.SIGTERM));
        Assert.DoesNotContain(server.Output, l => l.Contains("ffffffff"));
        Assert.False(UptimeProcesses.SegmentExists(key));
        var missing = Cli("uptime-client", "--key", hex, "--count", "1");
        Assert.Contains($"--key {hex}", missing.Stderr);
    }

    [Theory]
    [InlineData("1000")]
    [InlineData("101")]
    [InlineData("0")]
    public void Load_refuses_more_clients_than_it_can_drive_naming_the_value(string clients)
    {
        var r = Cli("uptime-load", "--clients", clients, "--seconds", "1");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"--clients must be between 1 and {UptimeLoad.MaxClients}, not {clients}", r.Stderr);
    }

    [Fact]
    public void A_load_run_reports_its_writes_and_reads()
    {
        var r = Cli("uptime-load", "--clients", "2", "--seconds", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"[\d,]+ writes, [\d,]+ reads", r.Stdout);
        Assert.Contains("every reading consistent", r.Stdout);
    }

    /// <summary>
    /// uptime-load started as a user starts it (the CLI restarts itself as a W^X-off worker), then the whole tree killed
    /// with SIGKILL: its private segment was marked for removal once attached, so nothing is left, before or after a later run.
    /// </summary>
    [Fact]
    public void A_SIGKILLed_load_run_leaves_no_segment()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Dll, "uptime-load", "--clients", "2", "--seconds", "120" }) start.ArgumentList.Add(a);
        start.Environment.Remove(Fork.WriteXorExecuteVariable);
        using var process = System.Diagnostics.Process.Start(start)!;
        int worker = 0;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while ((worker = Segments().Select(l => l.CreatorPid).FirstOrDefault(p => ParentOf(p) == process.Id)) == 0)
            {
                Assert.False(process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(60), "uptime-load did not attach its segment");
                Thread.Sleep(50);
            }
            clock.Restart();
            while (Segments().Single(l => l.CreatorPid == worker).Attachments < 3 && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(20);
            Signals.Kill(worker, Signal.SIGKILL); // the whole tree, as `kill -9 -PGID` would
            Signals.Kill(process.Id, Signal.SIGKILL);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)));
            clock.Restart();
            while (Signals.IsAlive(worker) && clock.Elapsed < TimeSpan.FromSeconds(15)) Thread.Sleep(20);
            Assert.DoesNotContain(Segments(), l => l.CreatorPid == worker);
            Assert.Equal(0, Cli("uptime-load", "--clients", "1", "--seconds", "1").ExitCode); // a later run
            Assert.DoesNotContain(Segments(), l => l.CreatorPid == worker);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    static List<SysvipcLine> Segments() => SysVDetails.ParseProc(File.ReadLines("/proc/sysvipc/shm")).ToList();

    static int ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
        }
        catch (IOException) { return 0; }
    }

    [Fact]
    public void A_server_with_ticks_ends_by_itself_and_leaves_nothing()
    {
        int key = UptimeProcesses.UniqueKey();
        using var server = UptimeProcesses.StartServer(key, intervalMs: 50, ticks: 5, workbookDll: Dll);
        Assert.Equal(0, server.WaitForExit());
        Assert.False(UptimeProcesses.SegmentExists(key));
    }
}

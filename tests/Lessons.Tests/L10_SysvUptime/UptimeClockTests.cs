using Lessons.L10_SysvUptime;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.L10_SysvUptime;

public class UptimeClockTests
{
    [Fact]
    public void A_server_summary_shows_pid_key_and_state_only()
    {
        Assert.Equal("uptime-server pid 42 key 0x5a000001 (running)", new ServerSummary(42, "0x5a000001", true, null).ToString());
        Assert.Equal("uptime-server pid 42 key 0x5a000001 (exited with 0)", new ServerSummary(42, "0x5a000001", false, 0).ToString());
    }

    [Fact]
    public void Keys_print_as_unsigned_32_bit_numbers()
    {
        Assert.Equal("0x80000003", CFormat.Hex(unchecked((int)0x8000_0003)));
        Assert.Equal("0xffffffff", CFormat.Hex(-1));
        Assert.Equal("0x666", CFormat.Hex(UptimeLayout.DefaultKey));
        var e = Assert.Throws<PosixException>(() => SysVShm.Get(unchecked((int)0xA5FF_FFF7), 0));
        Assert.StartsWith("shmget(key=0xa5fffff7,", e.Message);
    }

    [Theory]
    [InlineData(0, "00:00:00")]
    [InlineData(59, "00:00:59")]
    [InlineData(61, "00:01:01")]
    [InlineData(3661, "01:01:01")]
    [InlineData(86_399, "23:59:59")]
    [InlineData(86_400 + 5, "00:00:05")] // hours wrap at 24, as the C server's % 24
    public void Format_is_the_C_servers_text(int seconds, string text)
    {
        Assert.Equal(text, UptimeClock.Format(TimeSpan.FromSeconds(seconds)));
        Assert.Equal(seconds % 86_400, UptimeClock.ParseSeconds(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0:00:00")]
    [InlineData("24:00:00")]
    [InlineData("00:60:00")]
    [InlineData("00-00-00")]
    [InlineData("0a:00:00")]
    public void ParseSeconds_rejects_what_is_not_a_time(string text) => Assert.Equal(-1, UptimeClock.ParseSeconds(text));

    [Fact]
    public void WriteTick_writes_text_and_NUL_at_0_and_an_even_counter_at_64()
    {
        var segment = new byte[256];
        segment.AsSpan(0, 16).Fill((byte)'x');
        UptimeClock.WriteTick(segment, TimeSpan.FromSeconds(3723.9));
        Assert.Equal("01:02:03\0"u8.ToArray(), segment[..9]);
        Assert.Equal((byte)'x', segment[9]); // nothing else touched
        Assert.Equal(2, BitConverter.ToInt64(segment, UptimeLayout.SequenceOffset));
        Assert.Equal("01:02:03", UptimeClock.ReadRaw(segment));
        var reading = UptimeClock.ReadConsistent(segment);
        Assert.NotNull(reading);
        Assert.Equal("01:02:03", reading.Text);
        Assert.Equal(2, reading.Sequence);
        Assert.Equal("Timer is : [01:02:03]", reading.ToString());
    }

    [Fact]
    public void ReadConsistent_gives_up_on_an_odd_counter()
    {
        var segment = new byte[256];
        UptimeClock.WriteTick(segment, TimeSpan.Zero);
        UptimeClock.Sequence(segment)++; // a writer that died mid-write
        Assert.Null(UptimeClock.ReadConsistent(segment, maxRetries: 100));
    }

    [Fact]
    public void A_segment_too_small_for_the_counter_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => UptimeClock.WriteTick(new byte[64], TimeSpan.Zero));
        Assert.Contains("96", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => UptimeClock.Format(TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public void With_the_seqlock_no_reading_is_torn()
    {
        var r = TornReads.Run(seqlock: true, readers: 2, duration: TimeSpan.FromMilliseconds(300));
        Assert.True(r.Reads > 0 && r.Writes > 0, r.ToString());
        Assert.Equal(0, r.Torn);
    }

    [Fact]
    public void Without_the_seqlock_the_checker_runs_and_counts()
    {
        // Whether tears happen depends on the machine (cores, load): only the bookkeeping is checked here.
        var r = TornReads.Run(seqlock: false, readers: 1, duration: TimeSpan.FromMilliseconds(200));
        Assert.True(r.Reads > 0 && r.Writes > 0 && r.Torn <= r.Reads, r.ToString());
        Assert.Equal(0, r.Retries);
    }

    [Fact]
    public void Server_refuses_a_live_creators_key_and_a_smaller_segment_then_removes_its_own()
    {
        int key = UptimeProcesses.UniqueKey();
        using (var server = UptimeServer.Open(key, 256))
        {
            Assert.StartsWith("created", server.Message);
            server.Tick();
            var e = Assert.Throws<UptimeSegmentException>(() => UptimeServer.Open(key, 256));
            Assert.Contains("is in use", e.Message);
            var small = Assert.Throws<UptimeSegmentException>(() => UptimeServer.Open(key, 4096));
            Assert.Equal(UptimeSegmentProblem.InUse, small.Problem); // a live server comes first: never advise removing its segment
            using var client = UptimeClient.TryOpen(key);
            Assert.NotNull(client);
            Assert.Equal(ServerState.Running, client.State());
            Assert.Equal("00:00:00", client.Read()?.Text);
            Assert.Equal(2, Settled.Value(() => server.Stat().Attachments, 2));
            server.Dispose();
            Assert.Equal(ServerState.Gone, client.State()); // removed: the key is IPC_PRIVATE now
        }
        Assert.False(UptimeProcesses.SegmentExists(key));
        Assert.Null(UptimeClient.TryOpen(key));
    }

    [Fact]
    public async Task Of_many_take_overs_of_a_stale_marked_segment_at_once_exactly_one_wins()
    {
        using var done = System.Diagnostics.Process.Start("/bin/true")!;
        done.WaitForExit();
        int dead = done.Id;
        int key = UptimeProcesses.UniqueKey();
        int id = SysVShm.Get(key, 256, IpcFlags.IPC_CREAT | IpcFlags.IPC_EXCL, 0x180);
        try
        {
            using (var a = SysVShm.Attach(id))
            {
                UptimeClock.WriteServerPid(a.Span, dead);
                UptimeClock.WriteMarker(a.Span);
                UptimeClock.Sequence(a.Span) = 7; // the dead server stopped mid-write
            }
            const int contenders = 8;
            using var go = new Barrier(contenders);
            var tries = Enumerable.Range(0, contenders).Select(_ => Task.Factory.StartNew(() =>
            {
                go.SignalAndWait();
                try { return (UptimeServer?)UptimeServer.Open(key); }
                catch (UptimeSegmentException e) when (e.Problem == UptimeSegmentProblem.InUse) { return null; }
            }, TaskCreationOptions.LongRunning)).ToArray();
            var opened = await Task.WhenAll(tries);
            using var winner = Assert.Single(opened.OfType<UptimeServer>());
            Assert.StartsWith($"took over segment {id}", winner.Message);
            Assert.Equal(8, UptimeClock.Sequence(winner.Attachment.Span)); // even again
            Assert.Equal(Environment.ProcessId, UptimeClock.ReadServerPid(winner.Attachment.Span));
        }
        finally
        {
            if (UptimeProcesses.SegmentExists(key)) SysVShm.Remove(id);
        }
    }

    [Fact]
    public void A_load_run_with_too_few_writes_or_reads_did_not_load_and_says_so()
    {
        var starved = new UptimeLoadResult(true, 400, TimeSpan.FromSeconds(88), Writes: 2, Reads: 1_000_000, 0, 0, 0, 401);
        Assert.False(starved.Loaded);
        Assert.Contains("2 writes", starved.ToString());
        Assert.Contains("NOT LOADED", starved.ToString());
        Assert.DoesNotContain("consistent", starved.ToString());
        Assert.False((starved with { Writes = 1_000_000, Reads = 3 }).Loaded);
        Assert.True((starved with { Writes = 1_000_000 }).Loaded);
        Assert.Throws<ArgumentOutOfRangeException>(() => UptimeLoad.Run(UptimeLoad.MaxClients + 1, TimeSpan.FromMilliseconds(1)));
    }

    [Fact]
    public void Under_load_with_the_seqlock_every_reading_is_consistent_and_monotonic()
    {
        int key = UptimeProcesses.UniqueKey();
        var r = UptimeLoad.Run(clients: 3, duration: TimeSpan.FromMilliseconds(400), key: key);
        Assert.True(r.Reads > 0 && r.Writes > 0, r.ToString());
        Assert.True(r.AllConsistent, r.ToString());
        Assert.True(r.Loaded, r.ToString());
        // The server and 3 clients, each with its own shmat (one shared attachment would show 2). More is a child that a
        // parallel test forked meanwhile: it holds copies of this process's attachments until it exits.
        Assert.True(r.MostAttached >= 4, r.ToString());
        Assert.False(UptimeProcesses.SegmentExists(key));
    }
}

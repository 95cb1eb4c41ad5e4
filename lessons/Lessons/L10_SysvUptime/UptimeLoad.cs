using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// The load check: one server and many clients on one real System V segment. The server thread writes as fast as it
/// can with a fast clock: write n carries the up-time of n seconds, so a reading's sequence number (2n) says
/// exactly which text it must hold. Each client thread attaches the segment itself (its own shmat, read-only) and
/// reads continuously: a reading is torn when its text is not the one its sequence number names, and not
/// monotonic when its sequence number is smaller than the client's previous one.
/// </summary>
public static class UptimeLoad
{
    /// <summary>The most client threads: beyond it, on a small machine, the spinning readers starve the writer.</summary>
    public const int MaxClients = 100;

    /// <param name="clients">Client threads, each with its own attachment.</param>
    /// <param name="duration">How long the clients read.</param>
    /// <param name="seqlock">Readers use the seqlock (retry while odd or changed); without it they keep whatever they copied.</param>
    /// <param name="key">The segment's key. Default: a private segment (IPC_PRIVATE) marked for removal (IPC_RMID) as soon as
    /// the server has attached it, which Linux still lets the clients attach by id: even a SIGKILL leaves nothing.</param>
    public static UptimeLoadResult Run(int clients, TimeSpan duration, bool seqlock = true, int? key = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(clients, MaxClients);
        using var server = key is { } k ? UptimeServer.Open(k) : UptimeServer.CreatePrivate();
        if (key is null) SysVShm.Remove(server.Id); // gone at the last detach, however this process ends
        // Write 1 holds "00:00:01" and leaves the counter at 2: from here on, counter 2n holds the text of n seconds.
        UptimeClock.WriteWithSequence(server.Attachment.Span, UptimeClock.Format(TimeSpan.FromSeconds(1)));
        var load = new Load(server, seqlock);
        var writer = new Thread(load.Write) { IsBackground = true, Name = "uptime-load server" };
        var readers = Enumerable.Range(0, clients)
            .Select(c => new Thread(load.Read) { IsBackground = true, Name = $"uptime-load client {c}" }).ToList();

        foreach (var t in readers) t.Start();
        var wait = Stopwatch.StartNew();
        while (load.Ready < clients && wait.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(5);
        var clock = Stopwatch.StartNew();
        writer.Start();
        long mostAttached = 0;
        while (clock.Elapsed < duration)
        {
            mostAttached = Math.Max(mostAttached, server.Stat().Attachments);
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100, Math.Max(1, (duration - clock.Elapsed).TotalMilliseconds))));
        }
        load.Stop();
        writer.Join();
        foreach (var t in readers) t.Join();
        return new UptimeLoadResult(seqlock, clients, clock.Elapsed, load.Writes, load.Reads, load.Torn, load.NotMonotonic, load.Retries, mostAttached);
    }

    /// <summary>The state the server and client threads share: the stop flag, the clients ready, and the totals.</summary>
    sealed class Load(UptimeServer server, bool seqlock)
    {
        long stop, ready;
        public long Writes, Reads, Torn, NotMonotonic, Retries;

        public long Ready => Volatile.Read(ref ready);

        public void Stop() => Volatile.Write(ref stop, 1);

        bool Stopped => Volatile.Read(ref stop) != 0;

        /// <summary>The server thread: write n carries the text of n seconds, between two increments of the counter.</summary>
        public void Write()
        {
            var mem = server.Attachment.Span;
            ref long seq = ref UptimeClock.Sequence(mem);
            long n = Volatile.Read(ref seq) / 2;
            while (!Stopped)
            {
                n++;
                string text = UptimeClock.Format(TimeSpan.FromSeconds(n));
                Interlocked.Increment(ref seq);
                UptimeClock.WriteText(mem, text);
                Interlocked.Increment(ref seq);
            }
            Writes = n;
        }

        /// <summary>A client thread: its own attachment, read until stopped, its tally added to the totals.</summary>
        public void Read()
        {
            using var client = UptimeClient.AttachId(server.Id);
            Interlocked.Increment(ref ready);
            var tally = new Tally();
            while (!Stopped)
            {
                if (seqlock) ReadLocked(client, tally);
                else ReadUnlocked(client, tally);
            }
            Interlocked.Add(ref Reads, tally.Reads);
            Interlocked.Add(ref Torn, tally.Torn);
            Interlocked.Add(ref NotMonotonic, tally.Back);
            Interlocked.Add(ref Retries, tally.Retries);
        }

        static void ReadLocked(UptimeClient client, Tally tally)
        {
            var r = client.Read();
            if (r is null) return;
            tally.Retries += r.Retries;
            tally.Count(r.Text, r.Sequence);
        }

        static void ReadUnlocked(UptimeClient client, Tally tally)
        {
            long before = client.Sequence;
            string text = client.ReadRaw();
            long after = client.Sequence;
            if (before != after || (before & 1) != 0) tally.CountChanging(text, before, after);
            else tally.Count(text, before);
        }
    }

    /// <summary>One client's counts, and the sequence number of its last reading.</summary>
    sealed class Tally
    {
        public long Reads, Torn, Back, Retries;
        long last = -1;

        /// <summary>A reading with its sequence number: torn unless its text is the one that number names.</summary>
        public void Count(string text, long sequence)
        {
            Reads++;
            if (text != UptimeClock.Format(TimeSpan.FromSeconds(sequence / 2))) Torn++;
            if (sequence < last) Back++;
            last = sequence;
        }

        /// <summary>No seqlock, and the counter moved or was odd: keep the copy anyway, and check it against the texts written meanwhile.</summary>
        public void CountChanging(string text, long before, long after)
        {
            Reads++;
            bool whole = false;
            if (after - before <= 64)
                for (long n = before / 2; n <= (after + 1) / 2 && !whole; n++)
                    whole = text == UptimeClock.Format(TimeSpan.FromSeconds(n));
            if (!whole) Torn++;
        }
    }
}

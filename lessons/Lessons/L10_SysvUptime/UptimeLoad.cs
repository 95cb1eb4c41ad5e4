using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>The outcome of <see cref="UptimeLoad.Run"/>.</summary>
public sealed record UptimeLoadResult(
    bool Seqlock, int Clients, TimeSpan Elapsed, long Writes, long Reads, long Torn, long NotMonotonic, long Retries, long MostAttached)
{
    /// <summary>Every reading whole and no client saw time go back.</summary>
    public bool AllConsistent => Torn == 0 && NotMonotonic == 0;

    public override string ToString() =>
        $"{Clients} clients for {Elapsed.TotalSeconds:0.0} s {(Seqlock ? "with" : "WITHOUT")} the seqlock: {Writes:N0} writes, {Reads:N0} reads " +
        $"({Reads / Math.Max(Elapsed.TotalSeconds, 1e-9):N0}/s), torn {Torn:N0}, not monotonic {NotMonotonic:N0}, retries {Retries:N0}, " +
        $"most attached at once {MostAttached} → {(AllConsistent ? "every reading consistent and monotonic" : "INCONSISTENT readings")}";
}

/// <summary>
/// The load check: one server and many clients on one real System V segment. The server thread writes as fast as it
/// can with a fast clock: write n carries the up-time of n seconds, so a reading's sequence number (2n) says
/// exactly which text it must hold. Each client thread attaches the segment itself (its own shmat, read-only) and
/// reads continuously: a reading is torn when its text is not the one its sequence number names, and not
/// monotonic when its sequence number is smaller than the client's previous one.
/// </summary>
public static class UptimeLoad
{
    /// <param name="clients">Client threads, each with its own attachment.</param>
    /// <param name="duration">How long the clients read.</param>
    /// <param name="seqlock">Readers use the seqlock (retry while odd or changed); without it they keep whatever they copied.</param>
    /// <param name="key">The segment's key; default a unique one.</param>
    public static UptimeLoadResult Run(int clients, TimeSpan duration, bool seqlock = true, int? key = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        using var server = UptimeServer.Open(key ?? UptimeProcesses.UniqueKey());
        // Write 1 holds "00:00:01" and leaves the counter at 2: from here on, counter 2n holds the text of n seconds.
        UptimeClock.WriteWithSequence(server.Attachment.Span, UptimeClock.Format(TimeSpan.FromSeconds(1)));
        long stop = 0, writes = 0, reads = 0, torn = 0, notMonotonic = 0, retries = 0, mostAttached = 0, ready = 0;

        var writer = new Thread(() =>
        {
            var mem = server.Attachment.Span;
            ref long seq = ref UptimeClock.Sequence(mem);
            long n = Volatile.Read(ref seq) / 2;
            while (Volatile.Read(ref stop) == 0)
            {
                n++;
                string text = UptimeClock.Format(TimeSpan.FromSeconds(n));
                Interlocked.Increment(ref seq);
                UptimeClock.WriteText(mem, text);
                Interlocked.Increment(ref seq);
            }
            writes = n;
        }) { IsBackground = true, Name = "uptime-load server" };

        var readers = Enumerable.Range(0, clients).Select(c => new Thread(() =>
        {
            using var client = UptimeClient.TryOpen(server.Key) ?? throw new InvalidOperationException("the segment vanished");
            Interlocked.Increment(ref ready);
            long myReads = 0, myTorn = 0, myBack = 0, myRetries = 0, last = -1;
            while (Volatile.Read(ref stop) == 0)
            {
                long sequence;
                string text;
                if (seqlock)
                {
                    var r = client.Read();
                    if (r is null) continue;
                    (text, sequence) = (r.Text, r.Sequence);
                    myRetries += r.Retries;
                }
                else
                {
                    long before = client.Sequence;
                    text = client.ReadRaw();
                    long after = client.Sequence;
                    if (before != after || (before & 1) != 0)
                    {
                        // No seqlock: keep the copy anyway, and check it against the texts written meanwhile.
                        myReads++;
                        bool whole = false;
                        if (after - before <= 64)
                            for (long n = before / 2; n <= (after + 1) / 2 && !whole; n++)
                                whole = text == UptimeClock.Format(TimeSpan.FromSeconds(n));
                        if (!whole) myTorn++;
                        continue;
                    }
                    sequence = before;
                }
                myReads++;
                if (text != UptimeClock.Format(TimeSpan.FromSeconds(sequence / 2))) myTorn++;
                if (sequence < last) myBack++;
                last = sequence;
            }
            Interlocked.Add(ref reads, myReads);
            Interlocked.Add(ref torn, myTorn);
            Interlocked.Add(ref notMonotonic, myBack);
            Interlocked.Add(ref retries, myRetries);
        }) { IsBackground = true, Name = $"uptime-load client {c}" }).ToList();

        foreach (var t in readers) t.Start();
        var wait = Stopwatch.StartNew();
        while (Volatile.Read(ref ready) < clients && wait.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(5);
        var clock = Stopwatch.StartNew();
        writer.Start();
        while (clock.Elapsed < duration)
        {
            mostAttached = Math.Max(mostAttached, server.Stat().Attachments);
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(100, Math.Max(1, (duration - clock.Elapsed).TotalMilliseconds))));
        }
        Volatile.Write(ref stop, 1);
        writer.Join();
        foreach (var t in readers) t.Join();
        return new UptimeLoadResult(seqlock, clients, clock.Elapsed, writes, reads, torn, notMonotonic, retries, mostAttached);
    }
}

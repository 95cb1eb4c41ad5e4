using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>How many readings were torn in one run of <see cref="TornReads.Run"/>.</summary>
public sealed record TornReadResult(bool Seqlock, int Readers, long Writes, long Reads, long Torn, long Retries, TimeSpan Elapsed)
{
    public double TornPercent => Reads == 0 ? 0 : 100.0 * Torn / Reads;
    public override string ToString() =>
        $"{(Seqlock ? "with seqlock   " : "without seqlock")}: {Readers} reader(s), {Writes:N0} writes, {Reads:N0} reads, " +
        $"{Torn:N0} torn ({TornPercent:0.###} %), {Retries:N0} retries, {Elapsed.TotalMilliseconds:0} ms";
}

/// <summary>
/// The torn-read demonstration: one writer thread rewrites the text of a real System V segment over and over
/// while reader threads read it. The writer writes value i as HH:MM:SS of i × 3661 s (01:01:01 apart), so each
/// write changes every field, and a reading that mixes two writes is not any value the writer wrote. Between two
/// writes the writer pauses with the text whole (as the real server waits between ticks) and now and then yields the
/// processor, so readers always get a turn, even with more threads than cores: with the seqlock they finish reads.
/// </summary>
public static class TornReads
{
    const int Step = 3661;

    /// <summary>The text of the writer's i-th value.</summary>
    public static string ValueText(long i) => UptimeClock.Format(TimeSpan.FromSeconds(i % 86_400 * Step % 86_400));

    /// <summary>
    /// Runs the writer and <paramref name="readers"/> reader threads for <paramref name="duration"/>, on a fresh
    /// IPC_PRIVATE segment (removed at the end). A reading is torn when its text is not the writer's value for
    /// any i between the last finished write before the read and the first write that may have started after it
    /// (a reading that spans more than 64 writes, because its thread was descheduled, is not counted). With the seqlock
    /// the reading's even counter names the one write it saw, so every reading is checked against exactly that value.
    /// </summary>
    /// <param name="seqlock">Write under the sequence counter and read with <see cref="UptimeClock.ReadConsistent"/>; else plain.</param>
    /// <param name="readers">Reader threads.</param>
    /// <param name="duration">How long to run (default 500 ms).</param>
    /// <param name="spinPerByte">Busy-wait iterations after each byte written (Thread.SpinWait), standing for the formatting
    /// work sprintf does between bytes; it widens the window in which a write is half done. 0 writes as fast as possible.</param>
    public static TornReadResult Run(bool seqlock, int readers = 1, TimeSpan? duration = null, int spinPerByte = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(readers, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(spinPerByte);
        var time = duration ?? TimeSpan.FromMilliseconds(500);
        using var segment = OwnedSegment.Create(SysVShm.IPC_PRIVATE, UptimeLayout.DefaultSize);
        using var attachment = segment.Attach();
        var demo = new Demo(attachment.Address, attachment.Length, seqlock, spinPerByte);
        UptimeClock.WriteWithSequence(demo.Memory(), ValueText(0));

        var writer = new Thread(demo.Write) { IsBackground = true, Name = "torn-read writer" };
        var threads = Enumerable.Range(0, readers)
            .Select(r => new Thread(demo.Read) { IsBackground = true, Name = $"torn-read reader {r}" }).ToList();
        var clock = Stopwatch.StartNew();
        writer.Start();
        foreach (var t in threads) t.Start();
        Thread.Sleep(time);
        demo.Stop();
        writer.Join();
        foreach (var t in threads) t.Join();
        return new TornReadResult(seqlock, readers, demo.Writes, demo.Reads, demo.Torn, demo.Retries, clock.Elapsed);
    }

    /// <summary>One run's segment, its writer and readers, and their counts.</summary>
    sealed class Demo(nint address, long length, bool seqlock, int spinPerByte)
    {
        long finished; // the index of the last whole write
        long stop;
        long reads, torn, retries, writes;

        public long Reads => Interlocked.Read(ref reads);
        public long Torn => Interlocked.Read(ref torn);
        public long Retries => Interlocked.Read(ref retries);
        public long Writes => Interlocked.Read(ref writes);

        public unsafe Span<byte> Memory() => new((void*)address, (int)length);

        public void Stop() => Volatile.Write(ref stop, 1);

        bool Running => Volatile.Read(ref stop) == 0;

        public void Write()
        {
            var mem = Memory();
            long i = 0;
            while (Running)
            {
                i++;
                string text = ValueText(i);
                ref long seq = ref UptimeClock.Sequence(mem);
                if (seqlock) Interlocked.Increment(ref seq); // odd
                for (int b = 0; b < text.Length; b++)
                {
                    Volatile.Write(ref mem[b], (byte)text[b]);
                    Thread.SpinWait(spinPerByte); // sprintf formats as it goes: a byte at a time, with work in between
                }
                Volatile.Write(ref mem[text.Length], 0);
                if (seqlock) Interlocked.Increment(ref seq); // even
                Volatile.Write(ref finished, i);
                // A pause as long as a write, with the text whole (and the counter even), as the real server waits between
                // ticks: a reader gets a window to finish its read even when the writer never stops.
                Thread.SpinWait(spinPerByte * text.Length);
                if ((i & 255) == 0) Thread.Yield(); // and now and then the processor, for readers waiting on this core
            }
            Interlocked.Exchange(ref writes, i);
        }

        public void Read()
        {
            var mem = Memory();
            long myReads = 0, myTorn = 0, myRetries = 0;
            while (Running)
            {
                bool? whole = seqlock ? ReadWithSequence(mem, ref myRetries) : ReadPlain(mem);
                if (whole is null) continue;
                myReads++;
                if (whole == false) myTorn++;
            }
            Interlocked.Add(ref reads, myReads);
            Interlocked.Add(ref torn, myTorn);
            Interlocked.Add(ref retries, myRetries);
        }

        // True when the reading is the value its even counter names, false when torn, null when no reading finished.
        static bool? ReadWithSequence(Span<byte> mem, ref long retries)
        {
            var reading = UptimeClock.ReadConsistent(mem, maxRetries: 10_000_000);
            if (reading is null) return null;
            retries += reading.Retries;
            // The counter is 2 after value 0 and grows by 2 per write: it names the value this reading saw.
            return reading.Text == ValueText((reading.Sequence - 2) / 2);
        }

        // True when the text is one of the values written while it was read; null when the reader was descheduled
        // mid-read (more than 64 candidates: not counted).
        bool? ReadPlain(Span<byte> mem)
        {
            long before = Volatile.Read(ref finished);
            string text = UptimeClock.ReadRaw(mem);
            long after = Volatile.Read(ref finished) + 1;
            if (after - before > 64) return null;
            for (long i = before; i <= after; i++)
                if (ValueText(i) == text) return true;
            return false;
        }
    }
}

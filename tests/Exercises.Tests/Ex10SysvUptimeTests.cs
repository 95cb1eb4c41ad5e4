using Exercises;
using Grading;
using Lessons.L10_SysvUptime;

namespace Exercises.Tests;

public class Ex10SysvUptimeTests
{
    static long Sequence(byte[] segment) => BitConverter.ToInt64(segment, UptimeLayout.SequenceOffset);

    static void SetSequence(byte[] segment, long value) =>
        BitConverter.TryWriteBytes(segment.AsSpan(UptimeLayout.SequenceOffset, 8), value);

    [Theory, Graded(lesson: 10, points: 2)]
    [InlineData(0, "00:00:00")]
    [InlineData(7, "00:00:07")]
    [InlineData(3723.9, "01:02:03")]
    [InlineData(86_399, "23:59:59")]
    public void FormatUptime_prints_HH_MM_SS(double seconds, string expected) =>
        Assert.Equal(expected, Ex10SysvUptime.FormatUptime(TimeSpan.FromSeconds(seconds)));

    [Fact, Graded(lesson: 10, points: 2)]
    public void WriteTick_writes_the_text_a_NUL_and_adds_two_to_the_counter()
    {
        var segment = new byte[256];
        Array.Fill(segment, (byte)'x', 0, 64);
        SetSequence(segment, 40);
        Ex10SysvUptime.WriteTick(segment, TimeSpan.FromSeconds(61));
        Assert.Equal("00:01:01\0x"u8.ToArray(), segment[..10]);
        Assert.Equal(42, Sequence(segment));
        Ex10SysvUptime.WriteTick(segment, TimeSpan.FromSeconds(62));
        Assert.Equal(44, Sequence(segment));
        Assert.Equal("00:01:02", UptimeClock.ReadConsistent(segment)?.Text); // the lesson's reader agrees
    }

    [Fact, Graded(lesson: 10, points: 2)]
    public void ReadConsistent_reads_the_text_and_gives_up_on_an_odd_counter()
    {
        var segment = new byte[256];
        UptimeClock.WriteTick(segment, TimeSpan.FromSeconds(5));
        Assert.Equal("00:00:05", Ex10SysvUptime.ReadConsistent(segment));
        SetSequence(segment, Sequence(segment) + 1); // a server killed mid-write
        Assert.Null(Ex10SysvUptime.ReadConsistent(segment, maxRetries: 1000));
    }

    // BEGIN HIDDEN TESTS
    [Theory, Graded(lesson: 10, points: 1, Hidden = true)]
    [InlineData(90_000, "01:00:00")]
    [InlineData(359_999, "03:59:59")]
    [InlineData(0.999, "00:00:00")]
    public void FormatUptime_wraps_hours_and_drops_fractions(double seconds, string expected) =>
        Assert.Equal(expected, Ex10SysvUptime.FormatUptime(TimeSpan.FromSeconds(seconds)));

    [Fact, Graded(lesson: 10, points: 1, Hidden = true)]
    public void Bad_input_is_refused_and_changes_nothing()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Ex10SysvUptime.FormatUptime(TimeSpan.FromSeconds(-1)));
        var small = new byte[71];
        Assert.Throws<ArgumentException>(() => Ex10SysvUptime.WriteTick(small, TimeSpan.Zero));
        Assert.All(small, b => Assert.Equal(0, b));
        Assert.Throws<ArgumentException>(() => Ex10SysvUptime.ReadConsistent(new byte[71]));
        Assert.Equal("", Ex10SysvUptime.ReadConsistent(new byte[72])); // all zeros: an empty text, counter 0
    }

    [Fact, Graded(lesson: 10, points: 1, Hidden = true)]
    public void ReadConsistent_stops_at_the_NUL_and_at_eight_characters()
    {
        var segment = new byte[256];
        "abc\0zzzzz"u8.CopyTo(segment);
        Assert.Equal("abc", Ex10SysvUptime.ReadConsistent(segment));
        "123456789"u8.CopyTo(segment); // no NUL in the first 8 bytes
        Assert.Equal("12345678", Ex10SysvUptime.ReadConsistent(segment));
    }

    [Fact, Graded(lesson: 10, points: 2, Hidden = true)]
    public void Under_a_busy_writer_every_reading_is_whole()
    {
        // The student's writer against the lesson's reader, then the lesson's writer against the student's reader.
        var segment = new byte[256];
        Assert.Equal(0, Torn(segment, i => Ex10SysvUptime.WriteTick(segment, TimeSpan.FromSeconds(i * 3661 % 86_400)),
            () => UptimeClock.ReadConsistent(segment)?.Text));
        Assert.Equal(0, Torn(segment, i => UptimeClock.WriteTick(segment, TimeSpan.FromSeconds(i * 3661 % 86_400)),
            () => Ex10SysvUptime.ReadConsistent(segment)));
        Assert.Equal(0, Sequence(segment) & 1);
    }

    // A writer thread writes value i (i × 3661 s: every field changes) and publishes i when done; a reading is
    // torn when it is none of the values written between just before and just after it.
    static int Torn(byte[] segment, Action<long> write, Func<string?> read)
    {
        long stop = 0, finished = 0;
        write(0);
        var writer = new Thread(() =>
        {
            for (long i = 1; Volatile.Read(ref stop) == 0; i++) { write(i); Volatile.Write(ref finished, i); }
        });
        writer.Start();
        int torn = 0, reads = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 300)
        {
            long before = Volatile.Read(ref finished);
            string? text = read();
            long after = Volatile.Read(ref finished) + 1;
            if (text is null || after - before > 64) continue;
            reads++;
            bool whole = false;
            for (long i = before; i <= after && !whole; i++) whole = text == UptimeClock.Format(TimeSpan.FromSeconds(i * 3661 % 86_400));
            if (!whole) torn++;
        }
        Volatile.Write(ref stop, 1);
        writer.Join();
        Assert.True(reads > 0, "no reading succeeded");
        return torn;
    }
    // END HIDDEN TESTS
}

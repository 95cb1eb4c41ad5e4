using Lessons.L10_SysvUptime;

namespace Exercises;

/// <summary>
/// Exercise 10.1–10.3 — the up-time server's tick and the client's consistent read, on the segment's bytes.
/// `dotnet test tests/Exercises.Tests --filter Lesson=10` grades them.
/// <para>
/// The layout (<see cref="UptimeLayout"/>): at offset 0 the text <c>HH:MM:SS</c> followed by a NUL byte, exactly as
/// the course's C server writes it; at offset <see cref="UptimeLayout.SequenceOffset"/> (64) a 64-bit sequence
/// counter, the seqlock, which a C client never looks at. The counter is even when the text is whole and odd while
/// the server is writing it. Reach the counter as a <c>ref long</c> with
/// <c>MemoryMarshal.Cast&lt;byte, long&gt;(segment.Slice(64, 8))[0]</c>; change it with
/// <see cref="Interlocked.Increment(ref long)"/> (a full barrier: no byte of the text moves across it) and read it
/// with <see cref="Volatile.Read(ref long)"/>.
/// </para>
/// </summary>
public static class Ex10SysvUptime
{
    /// <summary>
    /// Exercise 10.1 — the text of an up-time as the C server prints it with <c>"%02d:%02d:%02d"</c>: hours
    /// (modulo 24, as the C server's <c>% 24</c>), minutes and seconds, two digits each; fractions of a second are
    /// dropped. For example 3 723.9 s is <c>"01:02:03"</c> and 90 000 s (25 h) is <c>"01:00:00"</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="uptime"/> is negative.</exception>
    public static string FormatUptime(TimeSpan uptime)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfLessThan(uptime, TimeSpan.Zero);
        long s = (long)uptime.TotalSeconds;
        return $"{s / 3600 % 24:00}:{s / 60 % 60:00}:{s % 60:00}";
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 10.2 — one tick of the server: makes the counter odd (increment), writes
    /// <see cref="FormatUptime"/>(<paramref name="uptime"/>) as ASCII at offset 0 followed by one NUL byte, then makes
    /// the counter even again (increment). Nothing else in the segment changes, so every tick adds exactly 2.
    /// </summary>
    /// <exception cref="ArgumentException">The segment is shorter than 72 bytes (the text and the counter); nothing is written.</exception>
    public static void WriteTick(Span<byte> segment, TimeSpan uptime)
    {
        // BEGIN SOLUTION
        if (segment.Length < UptimeLayout.SequenceOffset + sizeof(long))
            throw new ArgumentException($"the segment has {segment.Length} bytes; it needs at least {UptimeLayout.SequenceOffset + sizeof(long)}", nameof(segment));
        string text = FormatUptime(uptime);
        ref long seq = ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(segment.Slice(UptimeLayout.SequenceOffset, 8))[0];
        Interlocked.Increment(ref seq);
        System.Text.Encoding.ASCII.GetBytes(text, segment);
        segment[text.Length] = 0;
        Interlocked.Increment(ref seq);
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 10.3 — the client's consistent read: read the counter; if it is odd, a write is in progress, so try
    /// again; otherwise copy the text (the bytes from offset 0 up to the first NUL, at most 8), read the counter again,
    /// and return the text if the counter did not change; if it did, the copy may mix two writes, so try again.
    /// Gives up and returns null after <paramref name="maxRetries"/> retries (a server killed in mid-write leaves the
    /// counter odd for ever). Put <see cref="Interlocked.MemoryBarrier"/> between the copy and the second read.
    /// </summary>
    /// <exception cref="ArgumentException">The segment is shorter than 72 bytes.</exception>
    public static string? ReadConsistent(ReadOnlySpan<byte> segment, int maxRetries = 1_000_000)
    {
        // BEGIN SOLUTION
        if (segment.Length < UptimeLayout.SequenceOffset + sizeof(long))
            throw new ArgumentException($"the segment has {segment.Length} bytes; it needs at least {UptimeLayout.SequenceOffset + sizeof(long)}", nameof(segment));
        ref long seq = ref System.Runtime.CompilerServices.Unsafe.AsRef(in System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(segment.Slice(UptimeLayout.SequenceOffset, 8))[0]);
        Span<byte> copy = stackalloc byte[8];
        for (int retry = 0; retry <= maxRetries; retry++)
        {
            long before = Volatile.Read(ref seq);
            if ((before & 1) != 0) continue;
            segment[..8].CopyTo(copy);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref seq) != before) continue;
            int end = copy.IndexOf((byte)0);
            return System.Text.Encoding.ASCII.GetString(end < 0 ? copy : copy[..end]);
        }
        return null;
        // END SOLUTION
    }
}

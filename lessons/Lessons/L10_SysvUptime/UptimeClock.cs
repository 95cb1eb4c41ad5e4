using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// Where things are in the up-time segment. The text is at offset 0 exactly as the course's C server writes it
/// (<c>HH:MM:SS</c> and a NUL), so a C client reads our server. Our sequence counter (the seqlock) lives at
/// <see cref="SequenceOffset"/>, past the text, where a C client never looks.
/// </summary>
public static class UptimeLayout
{
    public const int DefaultKey = 0x666;
    public const long DefaultSize = 256;
    /// <summary>0600: read and write for the owner only.</summary>
    public const int DefaultMode = 0x180;
    public const int TextOffset = 0;
    /// <summary>"HH:MM:SS" is 8 characters; a NUL follows.</summary>
    public const int TextLength = 8;
    /// <summary>A 64-bit sequence counter, 8-byte aligned: odd while the server writes, even otherwise.</summary>
    public const int SequenceOffset = 64;
    /// <summary>
    /// The pid of the server that writes the segment now (4 bytes). IPC_STAT's creator pid never changes, so after
    /// a take-over only this field names the live server.
    /// </summary>
    public const int ServerPidOffset = 72;
    /// <summary>The workbook's marker (4 bytes, "WBUP" little-endian): only a segment carrying it is ever taken over.</summary>
    public const int MagicOffset = 76;
    public const uint Magic = 0x5055_4257;
    /// <summary>The layout's version (4 bytes) and its size in bytes (8 bytes, <see cref="MinimumSize"/>).</summary>
    public const int VersionOffset = 80;
    public const int Version = 1;
    public const int LayoutSizeOffset = 88;
    /// <summary>The smallest segment that holds the text, the counter, the server pid and the marker.</summary>
    public const long MinimumSize = 96;
}

/// <summary>A consistent reading of the segment: the text and the (even) sequence number it was read at.</summary>
public sealed record UptimeReading(string Text, long Sequence, int Retries)
{
    /// <summary>The text as seconds (HH*3600 + MM*60 + SS), or -1 when it is not a valid HH:MM:SS.</summary>
    public int Seconds => UptimeClock.ParseSeconds(Text);
    public override string ToString() => $"Timer is : [{Text}]";
}

/// <summary>The server's tick and the client's read, with and without the seqlock.</summary>
public static class UptimeClock
{
    /// <summary>HH:MM:SS as the C server prints it: hours modulo 24, two digits each.</summary>
    public static string Format(TimeSpan uptime)
    {
        if (uptime < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(uptime), uptime, "an up-time cannot be negative");
        long s = (long)uptime.TotalSeconds;
        return $"{s / 3600 % 24:00}:{s / 60 % 60:00}:{s % 60:00}";
    }

    /// <summary>Seconds in a HH:MM:SS text, or -1 when the text is not one.</summary>
    public static int ParseSeconds(string text)
    {
        if (text.Length != 8 || text[2] != ':' || text[5] != ':') return -1;
        int Two(int i) => char.IsAsciiDigit(text[i]) && char.IsAsciiDigit(text[i + 1]) ? (text[i] - '0') * 10 + text[i + 1] - '0' : -1;
        int h = Two(0), m = Two(3), s = Two(6);
        return h is < 0 or > 23 || m is < 0 or > 59 || s is < 0 or > 59 ? -1 : h * 3600 + m * 60 + s;
    }

    /// <summary>The sequence counter inside the segment.</summary>
    public static ref long Sequence(Span<byte> segment) => ref MemoryMarshal.Cast<byte, long>(Check(segment).Slice(UptimeLayout.SequenceOffset, 8))[0];

    static ref long SequenceOf(ReadOnlySpan<byte> segment) =>
        ref Unsafe.AsRef(in MemoryMarshal.Cast<byte, long>(Check(segment).Slice(UptimeLayout.SequenceOffset, 8))[0]);

    /// <summary>The pid the server stored at <see cref="UptimeLayout.ServerPidOffset"/> (0 if none).</summary>
    public static int ReadServerPid(ReadOnlySpan<byte> segment) =>
        Volatile.Read(ref Unsafe.AsRef(in MemoryMarshal.Cast<byte, int>(Check(segment).Slice(UptimeLayout.ServerPidOffset, 4))[0]));

    /// <summary>Stores the server's pid at <see cref="UptimeLayout.ServerPidOffset"/>.</summary>
    public static void WriteServerPid(Span<byte> segment, int pid) =>
        Volatile.Write(ref MemoryMarshal.Cast<byte, int>(Check(segment).Slice(UptimeLayout.ServerPidOffset, 4))[0], pid);

    /// <summary>
    /// Atomically replaces the recorded server pid <paramref name="expected"/> (a dead server's) by <paramref name="pid"/>:
    /// of several servers taking over at once, exactly one sees its compare-and-swap succeed.
    /// </summary>
    public static bool TryClaimServerPid(Span<byte> segment, int expected, int pid) =>
        Interlocked.CompareExchange(ref MemoryMarshal.Cast<byte, int>(Check(segment).Slice(UptimeLayout.ServerPidOffset, 4))[0], pid, expected) == expected;

    /// <summary>Writes the version and layout size, then the magic number last (a reader that sees it sees the rest).</summary>
    public static void WriteMarker(Span<byte> segment)
    {
        var words = MemoryMarshal.Cast<byte, int>(Check(segment));
        Volatile.Write(ref words[UptimeLayout.VersionOffset / 4], UptimeLayout.Version);
        Volatile.Write(ref MemoryMarshal.Cast<byte, long>(segment)[UptimeLayout.LayoutSizeOffset / 8], UptimeLayout.MinimumSize);
        Volatile.Write(ref words[UptimeLayout.MagicOffset / 4], unchecked((int)UptimeLayout.Magic));
    }

    /// <summary>True when the segment carries the workbook's marker: magic, this version and this layout size.</summary>
    public static bool HasMarker(ReadOnlySpan<byte> segment)
    {
        if (segment.Length < UptimeLayout.MinimumSize) return false;
        var words = MemoryMarshal.Cast<byte, int>(segment);
        return unchecked((uint)Volatile.Read(ref Unsafe.AsRef(in words[UptimeLayout.MagicOffset / 4]))) == UptimeLayout.Magic
            && words[UptimeLayout.VersionOffset / 4] == UptimeLayout.Version
            && MemoryMarshal.Cast<byte, long>(segment)[UptimeLayout.LayoutSizeOffset / 8] == UptimeLayout.MinimumSize;
    }

    /// <summary>Writes the text one byte at a time, as sprintf does, then the NUL. No protection against readers.</summary>
    public static void WriteText(Span<byte> segment, string text)
    {
        Check(segment);
        for (int i = 0; i < text.Length; i++) Volatile.Write(ref segment[UptimeLayout.TextOffset + i], (byte)text[i]);
        Volatile.Write(ref segment[UptimeLayout.TextOffset + text.Length], 0);
    }

    /// <summary>
    /// One tick of the server with the seqlock: the counter goes odd, the text is written, the counter goes even.
    /// Interlocked.Increment is a full barrier, so no byte of the text moves outside the two increments.
    /// </summary>
    public static void WriteTick(Span<byte> segment, TimeSpan uptime) => WriteWithSequence(segment, Format(uptime));

    /// <summary>Writes any 8-character text under the seqlock (the torn-read demonstration writes odd values).</summary>
    public static void WriteWithSequence(Span<byte> segment, string text)
    {
        ref long seq = ref Sequence(segment);
        Interlocked.Increment(ref seq); // odd: a write is in progress
        WriteText(segment, text);
        Interlocked.Increment(ref seq); // even: the text is whole again
    }

    /// <summary>Reads the text up to the NUL (at most 8 characters) with no check at all, as the C client does.</summary>
    public static string ReadRaw(ReadOnlySpan<byte> segment)
    {
        Check(segment);
        Span<byte> copy = stackalloc byte[UptimeLayout.TextLength];
        for (int i = 0; i < copy.Length; i++) copy[i] = Volatile.Read(ref Unsafe.AsRef(in segment[UptimeLayout.TextOffset + i]));
        int end = copy.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? copy : copy[..end]);
    }

    /// <summary>
    /// Reads the text consistently: read the counter (retry while odd), copy the text, read the counter again
    /// (retry if it changed). Returns null after <paramref name="maxRetries"/> retries (a writer that died mid-write
    /// leaves the counter odd for ever).
    /// </summary>
    public static UptimeReading? ReadConsistent(ReadOnlySpan<byte> segment, int maxRetries = 1_000_000)
    {
        ref long seq = ref SequenceOf(segment);
        for (int retries = 0; retries <= maxRetries; retries++)
        {
            long before = Volatile.Read(ref seq);
            if ((before & 1) != 0) { Thread.SpinWait(1); continue; }
            string text = ReadRaw(segment);
            Interlocked.MemoryBarrier(); // the copy above is finished before the counter is read again
            if (Volatile.Read(ref seq) == before)
                return new UptimeReading(text, before, retries);
        }
        return null;
    }

    static ReadOnlySpan<byte> Check(ReadOnlySpan<byte> segment) =>
        segment.Length >= UptimeLayout.MinimumSize ? segment
            : throw new ArgumentException($"the segment has {segment.Length} bytes; the up-time layout needs at least {UptimeLayout.MinimumSize}", nameof(segment));

    static Span<byte> Check(Span<byte> segment)
    {
        Check((ReadOnlySpan<byte>)segment);
        return segment;
    }
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Lessons.L09_PosixShm;

/// <summary>
/// Lesson 09's layout of a message in a POSIX shared memory object, shared by <c>workbook shm-producer</c>,
/// <c>workbook shm-consumer</c>, the notebook and exercise 09. All numbers are little-endian:
/// <code>
/// offset 0  uint32  Magic  0x4d48_5357 ("WSHM"), written LAST: it says "the message is complete"
/// offset 4  int32   Length of the message in bytes (0 … size − 8)
/// offset 8  bytes   the message, UTF-8, no terminating NUL
/// </code>
/// ftruncate fills a new object with zeros, so a consumer that comes too early sees Magic = 0 and knows the
/// producer has not finished writing.
/// </summary>
public static class ShmProtocol
{
    /// <summary>"WSHM" read as a little-endian uint32.</summary>
    public const uint Magic = 0x4d48_5357;

    /// <summary>Offset of <see cref="Magic"/>.</summary>
    public const int MagicOffset = 0;

    /// <summary>Offset of the message length (int32).</summary>
    public const int LengthOffset = 4;

    /// <summary>Bytes before the message; the message starts here.</summary>
    public const int HeaderSize = 8;

    /// <summary>The default object size of the commands: one page on x86-64.</summary>
    public const int DefaultSize = 4096;

    /// <summary>The largest object the commands create (64 MiB).</summary>
    public const long MaxSize = 64L << 20;

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The most message bytes an object of <paramref name="size"/> bytes holds.</summary>
    public static long Capacity(long size) => Math.Max(0, size - HeaderSize);

    /// <summary>The message's size in UTF-8 bytes.</summary>
    public static int ByteCount(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return StrictUtf8.GetByteCount(message);
    }

    /// <summary>
    /// Writes the message and its length, then the magic with a release store (<see cref="Volatile.Write(ref uint, uint)"/>),
    /// so a reader that sees the magic with an acquire load (<see cref="ReadMagic"/>) also sees the bytes before it. Throws ArgumentException, leaving the region untouched, when the message
    /// does not fit.
    /// </summary>
    public static void Write(Span<byte> region, string message)
    {
        int bytes = ByteCount(message);
        if (region.Length < HeaderSize || bytes > region.Length - HeaderSize)
            throw new ArgumentException(
                $"the message is {bytes} bytes of UTF-8 but an object of {region.Length} bytes holds at most {Capacity(region.Length)} " +
                $"(its first {HeaderSize} bytes are the header): use a larger --size", nameof(message));
        StrictUtf8.GetBytes(message, region[HeaderSize..]);
        BinaryPrimitives.WriteInt32LittleEndian(region[LengthOffset..], bytes);
        // A release store: no write above may become visible after it. A reader that sees the magic (with an acquire
        // load) therefore sees the length and the message as well.
        Volatile.Write(ref Unsafe.As<byte, uint>(ref region[MagicOffset]), LittleEndian(Magic));
    }

    /// <summary>
    /// The magic, read with acquire semantics (<see cref="Volatile.Read(ref readonly uint)"/>): no read after it can
    /// be served from before it, so when it says <see cref="Magic"/>, the length and the message read next are the
    /// ones the producer wrote before its release store.
    /// </summary>
    public static uint ReadMagic(ReadOnlySpan<byte> region) =>
        LittleEndian(Volatile.Read(ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(region[MagicOffset..]))));

    static uint LittleEndian(uint value) => BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);

    /// <summary>
    /// Reads a message written by <see cref="Write"/>. InvalidDataException (with what was found) when the region
    /// is smaller than the header, has no magic yet (the producer is not finished, or another program made it),
    /// or its length does not fit the region, or the bytes are not UTF-8.
    /// </summary>
    public static string Read(ReadOnlySpan<byte> region)
    {
        if (region.Length < HeaderSize)
            throw new InvalidDataException($"the object has {region.Length} bytes, fewer than the {HeaderSize}-byte header: the producer has not sized it yet, or it is not a workbook message");
        uint magic = ReadMagic(region); // acquire: the reads below come after it
        if (magic != Magic)
            throw new InvalidDataException($"no complete message: the magic is 0x{magic:x8}, not 0x{Magic:x8} (the producer has not finished writing, or another program made this object)");
        int length = BinaryPrimitives.ReadInt32LittleEndian(region[LengthOffset..]);
        if (length < 0 || length > region.Length - HeaderSize)
            throw new InvalidDataException($"the header says {length} message bytes but the object holds at most {Capacity(region.Length)}");
        try { return StrictUtf8.GetString(region.Slice(HeaderSize, length)); }
        catch (DecoderFallbackException e) { throw new InvalidDataException($"the message is not valid UTF-8: {e.Message}", e); }
    }
}

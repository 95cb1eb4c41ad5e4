using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using Lessons.L09_PosixShm;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 09.1–09.2 — a producer and a consumer that meet through a POSIX shared memory object, written from the
/// calls themselves: shm_open, ftruncate, mmap, munmap, close and shm_unlink, through the workbook's checked layer
/// (<see cref="PosixShm"/>, <see cref="FileDescriptors"/>, <see cref="Mman"/>; not the lesson's ready-made
/// ShmExchange or ShmProtocol.Write/Read: that is what you are writing).
/// `dotnet test tests/Exercises.Tests --filter Lesson=09` grades them.
/// <para>
/// The layout is lesson 09's <see cref="ShmProtocol"/> (so your producer talks to <c>workbook shm-consumer</c> and
/// your consumer reads <c>workbook shm-producer</c>), all little-endian:
/// <list type="bullet">
/// <item>at <see cref="ShmProtocol.MagicOffset"/> (0): <see cref="ShmProtocol.Magic"/>, a uint, written LAST;</item>
/// <item>at <see cref="ShmProtocol.LengthOffset"/> (4): the message's length in bytes, an int;</item>
/// <item>at <see cref="ShmProtocol.HeaderSize"/> (8): the message, UTF-8, no terminating NUL.</item>
/// </list>
/// The other side may look at the object at any moment: make sure that whoever sees the magic also sees the length
/// and the message (the lesson's notebook says which kind of store and load that takes).
/// </para>
/// </summary>
public static class ShmMessages
{
    /// <summary>
    /// Exercise 09.1 — the producer. Creates a NEW object <paramref name="name"/> (it must fail with the EEXIST of
    /// shm_open when the name exists, leaving that object untouched), readable and writable by its owner only
    /// (0600), of <paramref name="size"/> bytes; maps all of it shared, writes the message, its length and the
    /// magic, and releases everything it opened in this process (the mapping and the descriptor) before it returns.
    /// The object, with the message, stays in /dev/shm for the consumer, which unlinks it.
    /// <para>
    /// Bad input throws BEFORE anything is created: a bad name → ArgumentException (let
    /// <see cref="PosixShm.ValidateName"/> throw), a null message → ArgumentNullException, a size below
    /// <see cref="ShmProtocol.HeaderSize"/> or above <see cref="ShmProtocol.MaxSize"/> → ArgumentOutOfRangeException, a
    /// message whose UTF-8 bytes exceed size − 8 → ArgumentException. If anything fails after the object was created,
    /// remove its name before the exception leaves.
    /// </para>
    /// </summary>
    public static void Produce(string name, string message, long size = ShmProtocol.DefaultSize)
    {
        // BEGIN SOLUTION
        PosixShm.ValidateName(name);
        ArgumentNullException.ThrowIfNull(message);
        if (size < ShmProtocol.HeaderSize || size > ShmProtocol.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"size must be {ShmProtocol.HeaderSize} to {ShmProtocol.MaxSize} bytes");
        byte[] bytes = new UTF8Encoding(false, throwOnInvalidBytes: true).GetBytes(message);
        if (bytes.Length > size - ShmProtocol.HeaderSize)
            throw new ArgumentException($"{bytes.Length} bytes do not fit in {size - ShmProtocol.HeaderSize}", nameof(message));
        using var fd = PosixShm.Open(name, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_RDWR, 0x180 /* 0600 */);
        try
        {
            fd.Truncate(size);
            using var mapping = Mman.Map(size, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fd);
            var region = mapping.Span;
            bytes.CopyTo(region[ShmProtocol.HeaderSize..]);
            BinaryPrimitives.WriteInt32LittleEndian(region[ShmProtocol.LengthOffset..], bytes.Length);
            uint magic = BitConverter.IsLittleEndian ? ShmProtocol.Magic : BinaryPrimitives.ReverseEndianness(ShmProtocol.Magic);
            Volatile.Write(ref Unsafe.As<byte, uint>(ref region[ShmProtocol.MagicOffset]), magic); // release: last
        }
        catch
        {
            PosixShm.Unlink(name);
            throw;
        }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 09.2 — the consumer. Opens the existing object <paramref name="name"/> read-only, finds its size,
    /// maps it read-only and shared, reads the message, releases the mapping and the descriptor, removes the name
    /// from /dev/shm and returns the message.
    /// <para>
    /// A bad name → ArgumentException; a name that does not exist → the PosixException (ENOENT) of shm_open. An
    /// object that is not a complete message — smaller than the 8-byte header (do not map it then: reading past
    /// the end of the object would be SIGBUS), a magic other than <see cref="ShmProtocol.Magic"/>, a length below
    /// 0 or above size − 8, bytes that are not valid UTF-8 — is an InvalidDataException, and such an object is NOT
    /// unlinked (it may belong to someone else, or its producer may not have finished).
    /// </para>
    /// </summary>
    public static string Consume(string name)
    {
        // BEGIN SOLUTION
        PosixShm.ValidateName(name);
        string message;
        using (var fd = PosixShm.Open(name, OpenFlags.O_RDONLY))
        {
            long size = fd.Size();
            if (size < ShmProtocol.HeaderSize)
                throw new InvalidDataException($"{name} has {size} bytes, fewer than the header");
            using var mapping = Mman.Map(size, Prot.PROT_READ, MapFlags.MAP_SHARED, fd);
            ReadOnlySpan<byte> region = mapping.Span;
            uint raw = Volatile.Read(ref Unsafe.As<byte, uint>(ref Unsafe.AsRef(in region[ShmProtocol.MagicOffset]))); // acquire: first
            uint magic = BitConverter.IsLittleEndian ? raw : BinaryPrimitives.ReverseEndianness(raw);
            if (magic != ShmProtocol.Magic)
                throw new InvalidDataException($"{name}: magic 0x{magic:x8}, not a complete message");
            int length = BinaryPrimitives.ReadInt32LittleEndian(region[ShmProtocol.LengthOffset..]);
            if (length < 0 || length > size - ShmProtocol.HeaderSize)
                throw new InvalidDataException($"{name}: length {length} does not fit in {size} bytes");
            try
            {
                message = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(region.Slice(ShmProtocol.HeaderSize, length));
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidDataException($"{name}: the message is not UTF-8", e);
            }
        }
        PosixShm.Unlink(name);
        return message;
        // END SOLUTION
    }
}

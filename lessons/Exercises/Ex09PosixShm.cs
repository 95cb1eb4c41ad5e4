using System.Buffers.Binary;
using System.Text;
using Lessons.L09_PosixShm;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// Exercise 09.1–09.2 — a producer and a consumer that meet through a POSIX shared memory object, as library
/// functions. Write the bodies of <see cref="Produce"/> and <see cref="Consume"/>;
/// `dotnet test tests/Exercises.Tests --filter Lesson=09` grades them.
/// <para>
/// The layout is lesson 09's <see cref="ShmProtocol"/> (so your producer talks to <c>workbook shm-consumer</c> and
/// your consumer reads <c>workbook shm-producer</c>), all little-endian:
/// <list type="bullet">
/// <item>at <see cref="ShmProtocol.MagicOffset"/> (0): <see cref="ShmProtocol.Magic"/>, a uint, written LAST;</item>
/// <item>at <see cref="ShmProtocol.LengthOffset"/> (4): the message's length in bytes, an int;</item>
/// <item>at <see cref="ShmProtocol.HeaderSize"/> (8): the message, UTF-8, no terminating NUL.</item>
/// </list>
/// Write and read the header yourself with <see cref="BinaryPrimitives"/> (do not call ShmProtocol.Write/Read:
/// that is what you are writing). The tools: <see cref="OwnedShmName.Create"/>, <see cref="PosixShm.Open"/>,
/// <see cref="PosixShm.Unlink"/>, <see cref="FileDescriptors.Size"/>, <see cref="Mman.Map"/> with
/// <see cref="MapFlags.MAP_SHARED"/>, and <see cref="Encoding.UTF8"/>.
/// </para>
/// </summary>
public static class ShmMessages
{
    /// <summary>
    /// Exercise 09.1 — the producer. Creates <paramref name="name"/> with <see cref="OwnedShmName.Create"/> (which is
    /// shm_open(O_CREAT|O_EXCL|O_RDWR, 0600) + ftruncate(<paramref name="size"/>)), maps the whole object
    /// readable and writable with MAP_SHARED, writes the message, then its length, then the magic, unmaps it,
    /// closes the descriptor and returns the owned name: the object (and the message) stays in /dev/shm until the
    /// consumer unlinks it or the caller disposes the returned name.
    /// <para>
    /// Bad input throws BEFORE anything is created: a bad name → ArgumentException (let
    /// <see cref="PosixShm.ValidateName"/> throw), a null message → ArgumentNullException, a size below
    /// <see cref="ShmProtocol.HeaderSize"/> or above <see cref="ShmProtocol.MaxSize"/> → ArgumentOutOfRangeException, a message whose
    /// UTF-8 bytes exceed size − 8 → ArgumentException. A name that exists → the PosixException (EEXIST) of
    /// shm_open, the existing object untouched. If anything fails after the object was created, unlink it before
    /// the exception leaves.
    /// </para>
    /// </summary>
    public static OwnedShmName Produce(string name, string message, long size = ShmProtocol.DefaultSize)
    {
        // BEGIN SOLUTION
        PosixShm.ValidateName(name);
        ArgumentNullException.ThrowIfNull(message);
        if (size < ShmProtocol.HeaderSize || size > ShmProtocol.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"size must be {ShmProtocol.HeaderSize} to {ShmProtocol.MaxSize} bytes");
        byte[] bytes = Encoding.UTF8.GetBytes(message);
        if (bytes.Length > size - ShmProtocol.HeaderSize)
            throw new ArgumentException($"{bytes.Length} bytes do not fit in {size - ShmProtocol.HeaderSize}", nameof(message));
        var (owned, fd) = OwnedShmName.Create(name, size);
        try
        {
            using (fd)
            using (var mapping = Mman.Map(size, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fd))
            {
                var region = mapping.Span;
                bytes.CopyTo(region[ShmProtocol.HeaderSize..]);
                BinaryPrimitives.WriteInt32LittleEndian(region[ShmProtocol.LengthOffset..], bytes.Length);
                Thread.MemoryBarrier();
                BinaryPrimitives.WriteUInt32LittleEndian(region[ShmProtocol.MagicOffset..], ShmProtocol.Magic);
            }
            return owned;
        }
        catch
        {
            owned.Dispose();
            throw;
        }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 09.2 — the consumer. Opens <paramref name="name"/> read-only (<see cref="PosixShm.Open"/> with
    /// O_RDONLY), finds its size (<see cref="FileDescriptors.Size"/>), maps it PROT_READ with MAP_SHARED, reads the
    /// message, unmaps, closes, unlinks the name and returns the message.
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
            uint magic = BinaryPrimitives.ReadUInt32LittleEndian(region[ShmProtocol.MagicOffset..]);
            Thread.MemoryBarrier();
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

using Lessons.Posix;
using Microsoft.Win32.SafeHandles;

namespace Lessons.L09_PosixShm;

/// <summary>
/// What <see cref="ShmExchange.Produce"/> made: the owned name, the descriptor and the writable shared mapping.
/// Dispose unmaps, closes and unlinks the name, unless <see cref="Disown"/> handed the name to a consumer.
/// </summary>
public sealed class ProducedMessage : IDisposable
{
    internal ProducedMessage(OwnedShmName name, SafeFileHandle fd, Mapping mapping, int messageBytes, int mode)
    {
        Owner = name; Fd = fd; Mapping = mapping; MessageBytes = messageBytes; Mode = mode;
    }

    /// <summary>The name; Dispose unlinks it unless disowned.</summary>
    public OwnedShmName Owner { get; }

    /// <summary>The descriptor shm_open returned.</summary>
    public SafeFileHandle Fd { get; }

    /// <summary>The MAP_SHARED mapping of the whole object.</summary>
    public Mapping Mapping { get; }

    public string Name => Owner.Name;

    /// <summary>The object's size (what ftruncate set).</summary>
    public long Size => Mapping.Length;

    /// <summary>The message's length in UTF-8 bytes.</summary>
    public int MessageBytes { get; }

    /// <summary>The permission bits asked for at shm_open (the umask may clear some).</summary>
    public int Mode { get; }

    /// <summary>Leave the name in /dev/shm after Dispose: the consumer unlinks it.</summary>
    public void Disown() => Owner.Disown();

    public void Dispose()
    {
        Mapping.Dispose();
        Fd.Dispose();
        Owner.Dispose();
    }

    public override string ToString() =>
        $"{Name}: {Size} bytes, mode {CFormat.Octal(Mode)}, message {MessageBytes} bytes{(Owner.IsClosed ? " (name handed over)" : "")}";
}

/// <summary>What <see cref="ShmExchange.Consume"/> read.</summary>
/// <param name="Name">The object's name.</param>
/// <param name="Message">The message.</param>
/// <param name="Size">The object's size in bytes (lseek to its end).</param>
/// <param name="Unlinked">True when the consumer removed the name.</param>
public sealed record ConsumedMessage(string Name, string Message, long Size, bool Unlinked)
{
    public override string ToString() =>
        $"{Name}: {Size} bytes, message \"{Message}\"{(Unlinked ? ", name unlinked" : "")}";
}

/// <summary>
/// Lesson 09's producer and consumer as library functions (the workbook commands call these). The producer
/// creates the name, the consumer removes it: after one exchange nothing is left in /dev/shm.
/// </summary>
public static class ShmExchange
{
    /// <summary>
    /// shm_open(name, O_CREAT|O_EXCL|O_RDWR, mode), ftruncate(size), mmap(MAP_SHARED) and
    /// <see cref="ShmProtocol.Write"/>. Bad input (a bad name, a size outside 8 bytes … 64 MiB, a message too long
    /// for the size) is an ArgumentException before anything is created. A name that exists is a PosixException
    /// EEXIST (the existing object is left alone). On any failure after shm_open, the new name is unlinked.
    /// </summary>
    public static ProducedMessage Produce(string name, string message, long size = ShmProtocol.DefaultSize, int mode = 0x180)
    {
        PosixShm.ValidateName(name);
        ArgumentNullException.ThrowIfNull(message);
        if (size < ShmProtocol.HeaderSize || size > ShmProtocol.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(size), size,
                $"the size must be {ShmProtocol.HeaderSize} bytes (the header) to {ShmProtocol.MaxSize} bytes");
        if (mode is < 0 or > 0x1ff)
            throw new ArgumentOutOfRangeException(nameof(mode), CFormat.Octal(mode), "the mode must be permission bits 0000 to 0777");
        int bytes = ShmProtocol.ByteCount(message);
        if (bytes > ShmProtocol.Capacity(size))
            throw new ArgumentException(
                $"the message is {bytes} bytes of UTF-8 but an object of {size} bytes holds at most {ShmProtocol.Capacity(size)} (use a larger size)",
                nameof(message));

        var (owned, fd) = OwnedShmName.Create(name, size, mode);
        Mapping? mapping = null;
        try
        {
            mapping = Mman.Map(size, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fd);
            ShmProtocol.Write(mapping.Span, message);
            return new ProducedMessage(owned, fd, mapping, bytes, mode);
        }
        catch
        {
            mapping?.Dispose();
            fd.Dispose();
            owned.Dispose();
            throw;
        }
    }

    /// <summary>
    /// shm_open(name, O_RDONLY), its size, mmap(PROT_READ, MAP_SHARED), <see cref="ShmProtocol.Read"/>, then
    /// shm_unlink(name) when <paramref name="unlink"/>. A missing name is a PosixException ENOENT; an object
    /// without a complete message is an InvalidDataException and is NOT unlinked (it may not be ours).
    /// </summary>
    public static ConsumedMessage Consume(string name, bool unlink = true)
    {
        PosixShm.ValidateName(name);
        using var fd = PosixShm.Open(name, OpenFlags.O_RDONLY);
        long size = fd.Size();
        if (size < ShmProtocol.HeaderSize)
            throw new InvalidDataException(
                $"{name} has {size} bytes, fewer than the {ShmProtocol.HeaderSize}-byte header: the producer has not sized it yet, or it is not a workbook message");
        string message;
        using (var mapping = Mman.Map(size, Prot.PROT_READ, MapFlags.MAP_SHARED, fd))
            message = ShmProtocol.Read(mapping.Span);
        if (unlink)
            PosixShm.Unlink(name);
        return new ConsumedMessage(name, message, size, unlink);
    }
}

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

    /// <summary>The permission bits the object really has (fstat after shm_open): <see cref="Mode"/> minus the umask.</summary>
    public int ActualMode => Owner.Identity.Permissions;

    /// <summary>Leave the name in /dev/shm after Dispose: the consumer unlinks it.</summary>
    public void Disown() => Owner.Disown();

    public void Dispose()
    {
        Mapping.Dispose();
        Fd.Dispose();
        Owner.Dispose();
    }

    public override string ToString() =>
        $"{Name}: {Size} bytes, mode {CFormat.Octal(ActualMode)}, message {MessageBytes} bytes{(Owner.IsClosed ? " (name handed over)" : "")}";
}

/// <summary>What <see cref="ShmExchange.Consume"/> read.</summary>
/// <param name="Name">The object's name.</param>
/// <param name="Message">The message.</param>
/// <param name="Size">The object's size in bytes (lseek to its end).</param>
/// <param name="Unlinked">True when the consumer removed the name.</param>
public sealed record ConsumedMessage(string Name, string Message, long Size, bool Unlinked)
{
    /// <summary>Why the name was not unlinked although asked (it went away or now names another object), else null.</summary>
    public string? NotUnlinkedReason { get; init; }

    public override string ToString() =>
        $"{Name}: {Size} bytes, message \"{Message}\"{(Unlinked ? ", name unlinked" : NotUnlinkedReason is { } r ? $", not unlinked: {r}" : "")}";
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
    /// shm_open(name, O_RDONLY|O_NONBLOCK) (a FIFO at the name does not block), fstat, mmap(PROT_READ, MAP_SHARED),
    /// <see cref="ShmProtocol.Read"/>, then shm_unlink(name) when <paramref name="unlink"/> and the name still refers to
    /// the object read. A missing name is a PosixException ENOENT; anything that is not a regular file, is smaller than
    /// the header or larger than <see cref="ShmProtocol.MaxSize"/>, or holds no complete message is an
    /// InvalidDataException and is NOT unlinked (it may not be ours).
    /// </summary>
    public static ConsumedMessage Consume(string name, bool unlink = true)
    {
        PosixShm.ValidateName(name);
        using var fd = PosixShm.Open(name, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK);
        var status = fd.Status();
        if (!status.IsRegularFile)
            throw new InvalidDataException($"{PosixShm.DevShm}{name} is a {status.TypeName}, not a shared memory object (a regular file): left alone");
        long size = status.Size;
        if (size < ShmProtocol.HeaderSize)
            throw new InvalidDataException(
                $"{name} has {size} bytes, fewer than the {ShmProtocol.HeaderSize}-byte header: the producer has not sized it yet, or it is not a workbook message");
        if (size > ShmProtocol.MaxSize)
            throw new InvalidDataException(
                $"{name} has {size} bytes, more than the protocol's maximum of {ShmProtocol.MaxSize} bytes: not a workbook message, left alone");
        string message;
        using (var mapping = Mman.Map(size, Prot.PROT_READ, MapFlags.MAP_SHARED, fd))
            message = ShmProtocol.Read(mapping.Span);
        if (!unlink)
            return new ConsumedMessage(name, message, size, false);
        // Unlink only the object read: another process may have replaced it meanwhile.
        var now = PosixShm.StatusOfName(name);
        if (now is not { } n || !n.SameObject(status))
            return new ConsumedMessage(name, message, size, false)
            {
                NotUnlinkedReason = now is null ? "someone else removed the name meanwhile" : $"the name now refers to another object (inode {now.Value.Inode}, not {status.Inode})",
            };
        PosixShm.Unlink(name);
        return new ConsumedMessage(name, message, size, true);
    }
}

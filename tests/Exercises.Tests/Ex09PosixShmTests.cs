using System.Buffers.Binary;
using System.Runtime.Versioning;
using Exercises;
using Grading;
using Lessons.L09_PosixShm;
using Lessons.Posix;

namespace Exercises.Tests;

[SupportedOSPlatform("linux")]
public class Ex09PosixShmTests
{
    static string FreshName() => $"/workbook-ex09-{Environment.ProcessId}-{Guid.NewGuid():N}";

    static bool Exists(string name) => File.Exists("/dev/shm" + name);

    /// <summary>What this process still holds of /dev/shm/NAME: lines of /proc/self/maps and links in /proc/self/fd.</summary>
    static List<string> HeldByThisProcess(string name)
    {
        string path = "/dev/shm" + name;
        var held = File.ReadAllLines("/proc/self/maps").Where(l => l.Contains(path, StringComparison.Ordinal)).Select(l => "mapping " + l).ToList();
        foreach (var link in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target = null;
            try { target = new FileInfo(link).LinkTarget; } catch (IOException) { }
            if (target is not null && target.StartsWith(path, StringComparison.Ordinal)) held.Add($"descriptor {Path.GetFileName(link)} -> {target}");
        }
        return held;
    }

    /// <summary>Removes the name if a failing solution left it behind.</summary>
    static void Remove(string name)
    {
        try { PosixShm.Unlink(name); } catch (PosixException) { }
    }

    [Fact, Graded(lesson: 9, points: 3)]
    public void ProduceLeavesA0600ObjectWithTheHeaderAndTheMessage()
    {
        string name = FreshName();
        try
        {
            ShmMessages.Produce(name, "hello", 4096);
            var entry = ShmDemo.Find(name);
            Assert.NotNull(entry);
            Assert.Equal(4096, entry.Size);
            Assert.Equal("rw-------", entry.Permissions);
            byte[] bytes = File.ReadAllBytes("/dev/shm" + name);
            Assert.Equal(ShmProtocol.Magic, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
            Assert.Equal(5, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)));
            Assert.Equal("hello"u8.ToArray(), bytes[8..13]);
        }
        finally { Remove(name); }
    }

    [Fact, Graded(lesson: 9, points: 2)]
    public void TheProducerUnmapsAndClosesWhatItOpenedButLeavesTheName()
    {
        string name = FreshName();
        try
        {
            ShmMessages.Produce(name, "bye");
            Assert.True(Exists(name), "the object must stay in /dev/shm for the consumer");
            Assert.Empty(HeldByThisProcess(name));
        }
        finally { Remove(name); }
        Assert.False(Exists(name));
    }

    [Fact, Graded(lesson: 9, points: 3)]
    public void ConsumeReadsTheWorkbooksProducerAndUnlinks()
    {
        string name = FreshName();
        using var produced = ShmExchange.Produce(name, "from the lesson's producer");
        Assert.Equal("from the lesson's producer", ShmMessages.Consume(name));
        Assert.False(Exists(name));
    }

    [Fact, Graded(lesson: 9, points: 2)]
    public void TheLessonsConsumerReadsYourProducer()
    {
        string name = FreshName();
        try
        {
            ShmMessages.Produce(name, "from your producer");
            Assert.Equal("from your producer", ShmExchange.Consume(name).Message);
            Assert.False(Exists(name));
        }
        finally { Remove(name); }
    }

    [Fact, Graded(lesson: 9, points: 2)]
    public void AConsumerStartedFirstGetsEnoent()
    {
        string name = FreshName();
        Assert.Equal(Errno.ENOENT, Assert.Throws<PosixException>(() => ShmMessages.Consume(name)).Errno);
        Assert.False(Exists(name));
    }

    [Fact, Graded(lesson: 9, points: 2)]
    public void AProducerWhoseNameExistsGetsEexistAndLeavesTheFirstMessage()
    {
        string name = FreshName();
        try
        {
            using var first = ShmExchange.Produce(name, "first");
            Assert.Equal(Errno.EEXIST, Assert.Throws<PosixException>(() => ShmMessages.Produce(name, "second")).Errno);
            Assert.Equal("first", ShmExchange.Consume(name, unlink: false).Message);
        }
        finally { Remove(name); }
    }

    // BEGIN HIDDEN TESTS
    [Theory, Graded(lesson: 9, points: 3, Hidden = true)]
    [InlineData("")]
    [InlineData("héllo wörld ✓ 🎉 日本語")]
    [InlineData("line one\nline two\0after a NUL")]
    public void EmptyUnicodeAndNulMessagesGoRoundTrip(string message)
    {
        string name = FreshName();
        try
        {
            ShmMessages.Produce(name, message);
            Assert.Equal(message, ShmMessages.Consume(name));
            Assert.False(Exists(name));
        }
        finally { Remove(name); }
    }

    [Fact, Graded(lesson: 9, points: 3, Hidden = true)]
    public void AMessageAtTheSizeLimitFitsAndOneByteMoreIsRefusedBeforeCreating()
    {
        string name = FreshName();
        try
        {
            string exact = new string('é', 4) + "12"; // 10 bytes of UTF-8 for a 18-byte object
            ShmMessages.Produce(name, exact, 18);
            Assert.Equal(exact, ShmMessages.Consume(name));
            Assert.Throws<ArgumentException>(() => ShmMessages.Produce(name, exact + "3", 18));
            Assert.False(Exists(name));
            Assert.Throws<ArgumentOutOfRangeException>(() => ShmMessages.Produce(name, "", 7));
            Assert.Throws<ArgumentOutOfRangeException>(() => ShmMessages.Produce(name, "", ShmProtocol.MaxSize + 1));
            Assert.False(Exists(name));
        }
        finally { Remove(name); }
    }

    [Theory, Graded(lesson: 9, points: 2, Hidden = true)]
    [InlineData("no-slash")]
    [InlineData("/two/slashes")]
    [InlineData("/")]
    public void BadNamesAreArgumentExceptions(string name)
    {
        Assert.Throws<ArgumentException>(() => ShmMessages.Produce(name, "x"));
        Assert.Throws<ArgumentException>(() => ShmMessages.Consume(name));
        Assert.Throws<ArgumentNullException>(() => ShmMessages.Produce(FreshName(), null!));
    }

    [Fact, Graded(lesson: 9, points: 2, Hidden = true)]
    public void TheConsumerUnmapsAndClosesWhatItOpened()
    {
        string name = FreshName();
        using (var produced = ShmExchange.Produce(name, "read me"))
        {
            produced.Disown();
            produced.Dispose(); // the workbook's producer holds nothing of it any more
        }
        try
        {
            Assert.Equal("read me", ShmMessages.Consume(name));
            Assert.Empty(HeldByThisProcess(name));
        }
        finally { Remove(name); }
    }

    [Fact, Graded(lesson: 9, points: 2, Hidden = true)]
    public void YourProducerRefusedWithEexistDoesNotRemoveYourFirstObject()
    {
        // The cleanup on failure is for an object this call created: shm_open's EEXIST means it created nothing.
        string name = FreshName();
        try
        {
            ShmMessages.Produce(name, "one");
            Assert.Equal(Errno.EEXIST, Assert.Throws<PosixException>(() => ShmMessages.Produce(name, "two")).Errno);
            Assert.Equal("one", ShmMessages.Consume(name));
            Assert.False(Exists(name));
        }
        finally { Remove(name); }
    }

    [Fact, Graded(lesson: 9, points: 3, Hidden = true)]
    public void ObjectsWithoutACompleteMessageAreRefusedAndLeftInPlace()
    {
        string empty = FreshName(), zeros = FreshName(), tooLong = FreshName();
        var (a, fa) = OwnedShmName.Create(empty, 0);
        var (b, fb) = OwnedShmName.Create(zeros, 64);
        var (c, fc) = OwnedShmName.Create(tooLong, 16);
        using (a) using (fa) using (b) using (fb) using (c) using (fc)
        {
            using (var m = Mman.Map(16, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fc))
            {
                BinaryPrimitives.WriteInt32LittleEndian(m.Span[4..], 9);
                BinaryPrimitives.WriteUInt32LittleEndian(m.Span, ShmProtocol.Magic);
            }
            foreach (var name in new[] { empty, zeros, tooLong })
            {
                Assert.Throws<InvalidDataException>(() => ShmMessages.Consume(name));
                Assert.True(Exists(name), $"{name} was unlinked");
            }
        }
    }

    [Fact, Graded(lesson: 9, points: 2, Hidden = true)]
    public void NothingIsLeftInDevShmAfterManyExchanges()
    {
        string prefix = $"/workbook-ex09-{Environment.ProcessId}-many-{Guid.NewGuid():N}";
        for (int i = 0; i < 20; i++)
        {
            string name = $"{prefix}-{i}";
            ShmMessages.Produce(name, $"message {i}");
            Assert.Equal($"message {i}", ShmMessages.Consume(name));
        }
        Assert.Empty(ShmDemo.List(prefix));
    }
    // END HIDDEN TESTS
}

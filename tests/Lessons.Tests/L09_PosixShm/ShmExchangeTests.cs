using System.Buffers.Binary;
using System.Runtime.Versioning;
using Lessons.L09_PosixShm;
using Lessons.Posix;
using Lessons.Tests.Posix;

namespace Lessons.Tests.L09_PosixShm;

public class ShmProtocolTests
{
    [Fact]
    public void ReadMagic_sees_the_magic_only_once_Write_has_stored_it()
    {
        var region = new byte[64];
        Assert.Equal(0u, ShmProtocol.ReadMagic(region));
        ShmProtocol.Write(region, "m");
        Assert.Equal(ShmProtocol.Magic, ShmProtocol.ReadMagic(region));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("héllo wörld ✓ 🎉")]
    public void Write_then_read_gives_the_message_back(string message)
    {
        var region = new byte[64];
        ShmProtocol.Write(region, message);
        Assert.Equal(ShmProtocol.Magic, BinaryPrimitives.ReadUInt32LittleEndian(region));
        Assert.Equal(ShmProtocol.ByteCount(message), BinaryPrimitives.ReadInt32LittleEndian(region.AsSpan(4)));
        Assert.Equal(message, ShmProtocol.Read(region));
    }

    [Fact]
    public void A_message_that_exactly_fills_the_region_fits_and_one_byte_more_does_not()
    {
        var region = new byte[ShmProtocol.HeaderSize + 10];
        ShmProtocol.Write(region, "0123456789");
        Assert.Equal("0123456789", ShmProtocol.Read(region));
        var fresh = new byte[region.Length];
        var e = Assert.Throws<ArgumentException>(() => ShmProtocol.Write(fresh, "0123456789a"));
        Assert.Contains("holds at most 10", e.Message);
        Assert.All(fresh, b => Assert.Equal(0, b)); // untouched
    }

    [Fact]
    public void Zeros_are_not_a_message_yet() =>
        Assert.Contains("no complete message", Assert.Throws<InvalidDataException>(() => ShmProtocol.Read(new byte[32])).Message);

    [Fact]
    public void A_length_beyond_the_region_is_refused()
    {
        var region = new byte[16];
        ShmProtocol.Write(region, "x");
        BinaryPrimitives.WriteInt32LittleEndian(region.AsSpan(4), 9);
        Assert.Contains("at most 8", Assert.Throws<InvalidDataException>(() => ShmProtocol.Read(region)).Message);
    }

    [Fact]
    public void A_region_smaller_than_the_header_is_refused() =>
        Assert.Throws<InvalidDataException>(() => ShmProtocol.Read(new byte[7]));
}

[SupportedOSPlatform("linux")]
public class ShmExchangeTests
{
    [Fact]
    public void Produce_then_consume_in_another_mapping_and_nothing_is_left()
    {
        string name = TestNames.FreshShmName();
        using (var produced = ShmExchange.Produce(name, "über ✓", 4096))
        {
            Assert.Equal(4096, produced.Size);
            Assert.Equal(9, produced.MessageBytes);
            var entry = ShmDemo.Find(name);
            Assert.NotNull(entry);
            Assert.Equal("rw-------", entry.Permissions);
            Assert.Equal("0600", entry.Octal);
            Assert.Equal(4096, entry.Size);

            var got = ShmExchange.Consume(name);
            Assert.Equal(new ConsumedMessage(name, "über ✓", 4096, true), got);
            Assert.Null(ShmDemo.Find(name));
            Assert.Equal("über ✓", ShmProtocol.Read(produced.Mapping.Span)); // the producer's mapping stays valid
        }
        Assert.Null(ShmDemo.Find(name));
    }

    [Fact]
    public void Dispose_unlinks_unless_disowned()
    {
        string a = TestNames.FreshShmName(), b = TestNames.FreshShmName();
        ShmExchange.Produce(a, "a").Dispose();
        Assert.Null(ShmDemo.Find(a));
        using (var p = ShmExchange.Produce(b, "b")) p.Disown();
        try { Assert.NotNull(ShmDemo.Find(b)); }
        finally { Assert.Equal("b", ShmExchange.Consume(b).Message); }
        Assert.Null(ShmDemo.Find(b));
    }

    [Fact]
    public void Consume_keep_leaves_the_name()
    {
        string name = TestNames.FreshShmName();
        using var p = ShmExchange.Produce(name, "twice");
        Assert.False(ShmExchange.Consume(name, unlink: false).Unlinked);
        Assert.True(ShmExchange.Consume(name).Unlinked);
        Assert.Null(ShmDemo.Find(name));
    }

    [Fact]
    public void Consuming_a_missing_name_is_enoent()
    {
        var e = Assert.Throws<PosixException>(() => ShmExchange.Consume(TestNames.FreshShmName()));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.StartsWith("shm_open(", e.Message);
    }

    [Fact]
    public void Producing_an_existing_name_is_eexist_and_keeps_the_first()
    {
        string name = TestNames.FreshShmName();
        using var first = ShmExchange.Produce(name, "first");
        Assert.Equal(Errno.EEXIST, Assert.Throws<PosixException>(() => ShmExchange.Produce(name, "second")).Errno);
        Assert.Equal("first", ShmExchange.Consume(name, unlink: false).Message);
    }

    [Fact]
    public void An_object_without_a_message_is_refused_and_left_alone()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 4096);
        using (owned)
        using (fd)
        {
            Assert.Throws<InvalidDataException>(() => ShmExchange.Consume(name));
            Assert.NotNull(ShmDemo.Find(name));
        }
        Assert.Null(ShmDemo.Find(name));
    }

    [Fact]
    public void An_empty_object_is_refused()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 0);
        using (owned)
        using (fd)
            Assert.Contains("fewer than the 8-byte header", Assert.Throws<InvalidDataException>(() => ShmExchange.Consume(name)).Message);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(-1)]
    [InlineData((64L << 20) + 1)]
    public void Bad_sizes_are_refused_before_anything_is_created(long size)
    {
        string name = TestNames.FreshShmName();
        Assert.Throws<ArgumentOutOfRangeException>(() => ShmExchange.Produce(name, "", size));
        Assert.Null(ShmDemo.Find(name));
    }

    [Fact]
    public void A_message_too_long_is_refused_before_anything_is_created()
    {
        string name = TestNames.FreshShmName();
        Assert.Throws<ArgumentException>(() => ShmExchange.Produce(name, new string('x', 9), 16));
        Assert.Null(ShmDemo.Find(name));
    }

    [Theory]
    [InlineData("no-slash")]
    [InlineData("/a/b")]
    [InlineData("/")]
    public void Bad_names_are_argument_exceptions(string name)
    {
        Assert.Throws<ArgumentException>(() => ShmExchange.Produce(name, "x"));
        Assert.Throws<ArgumentException>(() => ShmExchange.Consume(name));
    }

    [Fact]
    public void The_mode_is_applied()
    {
        string name = TestNames.FreshShmName();
        using var p = ShmExchange.Produce(name, "x", mode: 0x100 /* 0400 */);
        Assert.Equal("r--------", ShmDemo.Find(name)!.Permissions);
    }

    [Fact]
    public void FileDescriptor_Size_is_what_ftruncate_set()
    {
        using var fd = Mman.MemfdCreate("size-test");
        Assert.Equal(0, fd.Size());
        fd.Truncate(12345);
        Assert.Equal(12345, fd.Size());
    }

    [Fact]
    public void Unique_names_differ_and_are_valid()
    {
        string a = ShmDemo.UniqueName(), b = ShmDemo.UniqueName();
        Assert.NotEqual(a, b);
        PosixShm.ValidateName(a);
        Assert.StartsWith($"/workbook-09-{Environment.ProcessId}-", a);
    }
}

[SupportedOSPlatform("linux")]
public class ShmIdentityTests
{
    [Fact]
    public void An_owned_name_replaced_by_another_object_is_not_unlinked_on_dispose()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 4096);
        fd.Dispose();
        Assert.Equal(NameState.Ours, owned.Check().State);
        PosixShm.Unlink(name);
        Assert.Equal(NameState.Gone, owned.Check().State);
        var (other, otherFd) = OwnedShmName.Create(name, 4096);
        using (other)
        using (otherFd)
        {
            Assert.Equal(NameState.Replaced, owned.Check().State);
            owned.Dispose();
            Assert.NotNull(ShmDemo.Find(name)); // the other object stays
        }
        Assert.Null(ShmDemo.Find(name));
    }

    [Fact]
    public void Consume_refuses_an_object_larger_than_the_protocol_without_overflow()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 3L << 30);
        using (owned)
        using (fd)
        {
            Assert.Contains("more than the protocol's maximum", Assert.Throws<InvalidDataException>(() => ShmExchange.Consume(name)).Message);
            Assert.NotNull(ShmDemo.Find(name));
        }
    }

    [Theory]
    [InlineData("/.")]
    [InlineData("/..")]
    public void Dot_names_are_refused(string name) =>
        Assert.Contains("may not be", Assert.Throws<ArgumentException>(() => PosixShm.ValidateName(name)).Message);

    [Fact]
    public void The_name_limit_counts_utf8_bytes()
    {
        PosixShm.ValidateName("/" + new string('é', 127)); // 254 bytes
        Assert.Contains("is 400 bytes", Assert.Throws<ArgumentException>(() => PosixShm.ValidateName("/" + new string('é', 200))).Message);
    }

    [Fact]
    public void Produce_reports_the_mode_the_object_really_has()
    {
        string name = TestNames.FreshShmName();
        using var p = ShmExchange.Produce(name, "x", mode: 0x100 /* 0400 */);
        Assert.Equal(0x100, p.ActualMode);
        Assert.Equal(p.Fd.Status().Inode, p.Owner.Identity.Inode);
    }
}

using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.Posix;

public class SysVShmTests
{
    [Fact]
    public void CreateAttachWriteStatRemove()
    {
        int key = TestNames.FreshKey();
        int id;
        using (var seg = OwnedSegment.Create(key, 256))
        {
            id = seg.Id;
            using (var a = seg.Attach())
            using (var b = SysVShm.Attach(SysVShm.Get(key, 0), ShmatFlags.SHM_RDONLY))
            {
                "12:34:56\0"u8.CopyTo(a.Span);
                Assert.Equal((byte)'1', b.Span[0]);
                var st = seg.Stat();
                Assert.Equal(256, st.Size);
                Assert.Equal(0x180, st.Mode);
                Assert.Equal(Environment.ProcessId, st.CreatorPid);
                Assert.Equal(2, Settled.Value(() => seg.Stat().Attachments, 2));
                Assert.Equal(key, st.Key);
            }
            Assert.Equal(0, Settled.Value(() => seg.Stat().Attachments, 0));
        }
        Assert.Equal(Errno.EINVAL, Settled.Removed(id));
    }

    [Fact]
    public void AnExistingKeyWithALargerSizeIsEinval()
    {
        int key = TestNames.FreshKey();
        using var seg = OwnedSegment.Create(key, 256);
        var e = Assert.Throws<PosixException>(() => SysVShm.Get(key, 4096, IpcFlags.IPC_CREAT, 0x180));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith($"shmget(key=0x{key:x}, size=4096, shmflg=IPC_CREAT|0600): EINVAL (Invalid argument)", e.Message);
        Assert.Equal(256, seg.Stat().Size); // the segment is untouched
    }

    [Fact]
    public void CreatingATakenKeyExclusivelyIsEexist()
    {
        int key = TestNames.FreshKey();
        using var seg = OwnedSegment.Create(key, 64);
        Assert.Equal(Errno.EEXIST, Assert.Throws<PosixException>(() => OwnedSegment.Create(key, 64)).Errno);
    }

    [Fact]
    public void AMissingKeyIsEnoent() =>
        Assert.Equal(Errno.ENOENT, Assert.Throws<PosixException>(() => SysVShm.Get(TestNames.FreshKey(), 16)).Errno);

    [Fact]
    public void ShmatOfABadIdIsEinval() =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => SysVShm.Attach(-1)).Errno);

    [Fact]
    public void ShmdtOfAnAddressThatIsNotAttachedIsEinval() =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => SysVShm.Detach(0x1000)).Errno);

    [Fact]
    public void ACreateOfSizeZeroIsEinval()
    {
        var e = Assert.Throws<PosixException>(() => SysVShm.Get(TestNames.FreshKey(), 0, IpcFlags.IPC_CREAT | IpcFlags.IPC_EXCL, 0x180));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("size of 0", e.Message);
    }

    [Fact]
    public void RemoveOfABadIdIsEinval() =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => SysVShm.Remove(-1)).Errno);

    [Fact]
    public void FtokMakesAStableKeyAndFailsForAMissingFile()
    {
        string file = Path.GetTempFileName();
        try
        {
            Assert.Equal(SysVShm.Ftok(file, 'A'), SysVShm.Ftok(file, 'A'));
            Assert.NotEqual(SysVShm.Ftok(file, 'A'), SysVShm.Ftok(file, 'B'));
        }
        finally { File.Delete(file); }
        Assert.Equal(Errno.ENOENT, Assert.Throws<PosixException>(() => SysVShm.Ftok(file, 'A')).Errno);
    }
}

public class PosixShmTests
{
    [Fact]
    public void ProducerAndConsumerSeeTheSameBytes()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 4096);
        using (owned)
        using (fd)
        {
            Assert.True(File.Exists("/dev/shm" + name));
            using var writer = Mman.Map(4096, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fd);
            "hello"u8.CopyTo(writer.Span);
            using var readerFd = PosixShm.Open(name, OpenFlags.O_RDONLY);
            using var reader = Mman.Map(4096, Prot.PROT_READ, MapFlags.MAP_SHARED, readerFd);
            Assert.Equal("hello"u8.ToArray(), reader.Span[..5].ToArray());
        }
        Assert.False(File.Exists("/dev/shm" + name));
    }

    [Fact]
    public void OpeningAMissingObjectIsEnoent()
    {
        var e = Assert.Throws<PosixException>(() => PosixShm.Open(TestNames.FreshShmName(), OpenFlags.O_RDONLY));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("has the producer created it yet?", e.Message);
        Assert.Equal(Errno.ENOENT, Assert.Throws<PosixException>(() => PosixShm.Unlink(TestNames.FreshShmName())).Errno);
    }

    [Theory]
    [InlineData("no-slash")]
    [InlineData("/")]
    [InlineData("/a/b")]
    public void BadNamesAreRefusedWithAReason(string name) =>
        Assert.Contains("example: \"/workbook-demo\"", Assert.Throws<ArgumentException>(() => PosixShm.Open(name, OpenFlags.O_RDONLY)).Message);

    [Fact]
    public void ATooLongNameIsRefused() =>
        Assert.Contains("longer than 255 bytes", Assert.Throws<ArgumentException>(() => PosixShm.ValidateName("/" + new string('x', 256))).Message);

    [Fact]
    public void CreatingAnExistingNameExclusivelyIsEexist()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 16);
        using (owned)
        using (fd)
            Assert.Equal(Errno.EEXIST, Assert.Throws<PosixException>(() => OwnedShmName.Create(name, 16)).Errno);
    }
}

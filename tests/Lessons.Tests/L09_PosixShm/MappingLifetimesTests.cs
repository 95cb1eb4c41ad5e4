using System.Runtime.Versioning;
using System.Text;
using Lessons.L09_PosixShm;
using Lessons.Posix;
using Lessons.Tests.Posix;

namespace Lessons.Tests.L09_PosixShm;

[SupportedOSPlatform("linux")]
public class MappingLifetimesTests
{
    [Fact]
    public void A_mapping_outlives_shm_unlink_and_maps_says_deleted()
    {
        string name = TestNames.FreshShmName();
        var (owned, fd) = OwnedShmName.Create(name, 4096);
        using var mapping = Mman.Map(4096, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fd);
        fd.Dispose();
        ShmProtocol.Write(mapping.Span, "still here");
        owned.Dispose();
        Assert.Null(ShmDemo.Find(name));
        Assert.Equal("still here", ShmProtocol.Read(mapping.Span));
        var line = Assert.Single(MappingLifetimes.MapsLines("/dev/shm" + name));
        Assert.EndsWith($"/dev/shm{name} (deleted)", line);
        Assert.Equal(Errno.ENOENT, Assert.Throws<PosixException>(() => PosixShm.Open(name, OpenFlags.O_RDWR)).Errno);
        mapping.Dispose();
        Assert.Empty(MappingLifetimes.MapsLines("/dev/shm" + name));
    }

    [Fact]
    public void Shmem_is_a_positive_byte_count() => Assert.True(MappingLifetimes.ShmemBytes() > 0);

    [Fact]
    public void A_childs_write_reaches_the_file_through_MAP_SHARED_but_not_through_MAP_PRIVATE()
    {
        string folder = MappingLifetimes.CreateTempFolder();
        try
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
            string a = Path.Combine(folder, "a"), b = Path.Combine(folder, "b");
            using var fa = FileDescriptors.Open(a, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_RDWR);
            using var fb = FileDescriptors.Open(b, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_RDWR);
            Assert.Equal(4, fa.Write("old\n"u8));
            Assert.Equal(4, fb.Write("old\n"u8));
            fa.Truncate(4096);
            fb.Truncate(4096);
            using var shared = Mman.Map(4096, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fa);
            using var priv = Mman.Map(4096, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE, fb);
            Assert.Equal(0, MappingLifetimes.WriteMarkInChild(shared).ExitCode);
            Assert.Equal(0, MappingLifetimes.WriteMarkInChild(priv).ExitCode);
            byte[] mark = Encoding.UTF8.GetBytes(MappingLifetimes.ChildMark);
            Assert.Equal(mark, shared.Span[..mark.Length].ToArray());
            Assert.Equal(mark, FileDescriptors.ReadAll(a)[..mark.Length]);
            Assert.Equal("old\n"u8.ToArray(), priv.Span[..4].ToArray());
            Assert.Equal("old\n"u8.ToArray(), FileDescriptors.ReadAll(b)[..4]);
            Assert.Equal(4096, FileDescriptors.ReadAll(b).Length);
        }
        finally { Directory.Delete(folder, recursive: true); }
    }

    [Fact]
    public void The_child_refuses_a_read_only_or_small_mapping()
    {
        using var ro = Mman.MapAnonymous(4096, Prot.PROT_READ);
        Assert.Throws<ArgumentException>(() => MappingLifetimes.WriteMarkInChild(ro));
    }

    [Fact]
    public void Open_of_a_missing_file_names_the_call_and_ENOENT()
    {
        var e = Assert.Throws<PosixException>(() => FileDescriptors.Open("/nonexistent-workbook-09/x", OpenFlags.O_RDONLY));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.StartsWith("open(path=\"/nonexistent-workbook-09/x\"", e.Message);
        Assert.Throws<ArgumentException>(() => FileDescriptors.Open("a\0b", OpenFlags.O_RDONLY));
    }

    [Fact]
    public void Glibc_takes_a_name_without_a_slash_when_asked_and_it_is_the_slashed_object()
    {
        string bare = TestNames.FreshShmName().TrimStart('/') + "-OS";
        Assert.Throws<ArgumentException>(() => PosixShm.Open(bare, OpenFlags.O_RDONLY));
        try
        {
            using (var fd = PosixShm.Open(bare, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_RDWR, portableName: false))
                fd.Truncate(777);
            Assert.True(File.Exists("/dev/shm/" + bare));
            using (var slashed = PosixShm.Open("/" + bare, OpenFlags.O_RDONLY))
                Assert.Equal(777, slashed.Size());
        }
        finally { PosixShm.Unlink(bare, portableName: false); }
        Assert.False(File.Exists("/dev/shm/" + bare));
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => PosixShm.Open("a/b", OpenFlags.O_RDONLY, portableName: false)).Errno);
    }
}

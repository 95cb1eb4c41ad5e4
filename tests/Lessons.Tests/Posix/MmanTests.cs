using Lessons.Posix;

namespace Lessons.Tests.Posix;

public class MmanTests
{
    static readonly long Page = SysConf.PageSize;

    [Fact]
    public void PageSizeMatchesTheRuntime() => Assert.Equal(Environment.SystemPageSize, SysConf.PageSize);

    [Fact]
    public void MapWriteReadUnmap()
    {
        using var m = Mman.MapAnonymous(3 * Page);
        Assert.Equal(0, m.Address % Page);
        m.Span[0] = 42;
        m.Span[^1] = 7;
        Assert.Equal(42, m.Span[0]);
        Assert.Equal(7, m.Span[(int)(3 * Page - 1)]);
        Assert.Contains(ProcMaps.Read(), r => r.Contains(m.Address) && r.Permissions == "rw-p" && r.Path is null);
    }

    [Fact]
    public void DisposeUnmapsTheRegion()
    {
        var m = Mman.MapAnonymous(Page, Prot.PROT_READ);
        nint at = m.Address;
        Assert.NotNull(ProcMaps.Find(at));
        m.Dispose();
        Assert.DoesNotContain(ProcMaps.Read(), r => r.Contains(at) && r.Permissions == "r--p");
        Assert.Throws<ObjectDisposedException>(() => m.Address);
        m.Dispose(); // twice is harmless
    }

    [Fact]
    public void MapOfLengthZeroIsEinval()
    {
        var e = Assert.Throws<PosixException>(() => Mman.MapAnonymous(0));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith("mmap(addr=0x0, length=0, prot=PROT_READ|PROT_WRITE, flags=MAP_PRIVATE|MAP_ANONYMOUS", e.Message);
        Assert.Contains("EINVAL (Invalid argument)", e.Message);
    }

    [Fact]
    public void MapOfAHugeLengthIsEnomem()
    {
        var e = Assert.Throws<PosixException>(() => Mman.MapAnonymous(long.MaxValue));
        Assert.Equal(Errno.ENOMEM, e.Errno);
    }

    [Fact]
    public void NegativeLengthIsRefusedBeforeCallingC()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Mman.MapAnonymous(-1));
        Assert.Contains("negative", e.Message);
    }

    [Fact]
    public void MunmapOfAnUnalignedAddressIsEinval()
    {
        using var m = Mman.MapAnonymous(Page);
        var e = Assert.Throws<PosixException>(() => Mman.Unmap(m.Address + 1, 10));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal(0, m.Span[0]); // the mapping is intact
    }

    [Fact]
    public void MprotectChangesPermissionsAndRefusesUnalignedAddresses()
    {
        using var m = Mman.MapAnonymous(Page);
        m.Protect(Prot.PROT_READ);
        Assert.Equal("r--p", ProcMaps.Find(m.Address)!.Permissions);
        var e = Assert.Throws<PosixException>(() => Mman.Protect(m.Address + 8, 8, Prot.PROT_READ));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("not a multiple of the page size", e.Message);
    }

    [Fact]
    public void MadviseSucceedsOnAPageAndFailsOffAlignment()
    {
        using var m = Mman.MapAnonymous(Page);
        m.Span[0] = 9;
        Mman.Advise(m.Address, Page, Advice.MADV_DONTNEED);
        Assert.Equal(0, m.Span[0]); // a private anonymous page reads as zero after MADV_DONTNEED
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => Mman.Advise(m.Address + 1, Page, Advice.MADV_DONTNEED)).Errno);
    }

    [Fact]
    public void MemfdCanBeSizedAndMappedShared()
    {
        using var fd = Mman.MemfdCreate("workbook-test");
        fd.Truncate(Page);
        using var a = Mman.Map(Page, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_SHARED, fd);
        using var b = Mman.Map(Page, Prot.PROT_READ, MapFlags.MAP_SHARED, fd);
        a.Span[5] = 99;
        Assert.Equal(99, b.Span[5]);
        Assert.StartsWith("/memfd:workbook-test", ProcMaps.Find(b.Address)!.Path);
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => fd.Truncate(-1)).Errno);
    }

    [Fact]
    public void MinorFaultsGrowAsPagesAreTouched()
    {
        using var m = Mman.MapAnonymous(256 * Page);
        long before = ResourceUsage.Get(RUsageWho.RUSAGE_THREAD).MinorFaults;
        for (int i = 0; i < 256; i++) m.Span[(int)(i * Page)] = 1;
        long after = ResourceUsage.Get(RUsageWho.RUSAGE_THREAD).MinorFaults;
        Assert.InRange(after - before, 200, 10_000); // transparent huge pages may fold some faults
    }

    [Fact]
    public void GetrusageRejectsAnUnknownWho()
    {
        var e = Assert.Throws<PosixException>(() => ResourceUsage.Get((RUsageWho)42));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}

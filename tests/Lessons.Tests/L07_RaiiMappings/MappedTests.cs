using System.Runtime.CompilerServices;
using Lessons.L07_RaiiMappings;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.L07_RaiiMappings;

// "nothing is mapped at these addresses after Dispose": another test must not map there meanwhile
[Collection(ProcessWideState.Name)]
public class MappedTests
{
    struct Point3
    {
        public long X, Y, Z;
    }

    [Fact]
    public void TheValueIsConstructedInAnAnonymousMappingAndReadByRef()
    {
        using var m = Mapped<Point3>.Create(new Point3 { X = 1, Y = 2, Z = 3 });
        Assert.Equal(24, Mapped<Point3>.Size);
        Assert.Equal(0, m.Address % SysConf.PageSize);
        var region = ProcMaps.Find(m.Address);
        Assert.NotNull(region);
        Assert.Equal(RegionKind.Anonymous, region.Kind);
        Assert.Equal("rw-p", region.Permissions);
        Assert.Equal(2, m.Value.Y);
        ref var p = ref m.Value;
        p.Z = 42;
        Assert.Equal(42, BitConverter.ToInt64(m.Bytes[16..24]));
        Assert.True(Unsafe.AreSame(ref p, ref m.Value));
    }

    [Fact]
    public void DisposeUnmapsOnceAndLaterUseThrows()
    {
        var m = new Mapped<int>(7);
        nint a = m.Address;
        Assert.True(RaiiMappings.IsMapped(a));
        m.Dispose();
        Assert.True(m.IsDisposed);
        Assert.False(RaiiMappings.Census(a).Mapped[0]);
        m.Dispose(); // harmless
        Assert.Throws<ObjectDisposedException>(() => m.Value);
        Assert.Throws<ObjectDisposedException>(() => m.Address);
        Assert.Equal("Mapped<Int32> (unmapped)", m.ToString());
    }

    [Fact]
    public void TheSafeHandlesFinalizerUnmapsAnAbandonedMapping()
    {
        nint a = RaiiMappings.Abandon(123L);
        for (int i = 0; i < 10 && RaiiMappings.IsMapped(a); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(RaiiMappings.IsMapped(a));
    }

    [Fact]
    public void AFailedMmapPartWayLeavesNothingMapped()
    {
        var mapped = new List<nint>();
        var e = Assert.Throws<PosixException>(() => RaiiMappings.MapInTurn([4096, 3 * 4096, long.MaxValue], mapped));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.StartsWith("mmap(", e.Message);
        Assert.Equal(2, mapped.Count);
        Assert.Equal(0, RaiiMappings.Census([.. mapped]).MappedCount);
    }

    [Fact]
    public void MappingsInTurnAreAllReleasedWhenNothingFails()
    {
        var mapped = new List<nint>();
        RaiiMappings.MapInTurn([4096, 4096], mapped);
        Assert.Equal(2, mapped.Count);
        Assert.Equal(0, RaiiMappings.Census([.. mapped]).MappedCount);
    }

    [Fact]
    public void CensusCountsByContainment()
    {
        using var m = Mman.MapAnonymous(4096);
        var c = RaiiMappings.Census(m.Address, 0);
        Assert.True(c.Lines > 10);
        Assert.Equal([true, false], c.Mapped);
        Assert.Equal(1, c.MappedCount);
        var r = RaiiMappings.RegionOf(m.Address);
        Assert.NotNull(r.Region);
        Assert.True(r.Region.Contains(m.Address));
    }

    [Fact]
    public void OnlyUnmanagedTypesAreFreeOfReferences()
    {
        Assert.False(RuntimeHelpers.IsReferenceOrContainsReferences<Point3>());
        Assert.True(RuntimeHelpers.IsReferenceOrContainsReferences<string>());
        Assert.True(RuntimeHelpers.IsReferenceOrContainsReferences<KeyValuePair<int, string>>());
    }
}

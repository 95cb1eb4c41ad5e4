using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Exercises;
using Grading;
using Lessons.Posix;
using TestTools;

namespace Exercises.Tests;

/// <summary>
/// Ex07's tests check that an address is no longer mapped after Dispose. Another test mapping at the same time could
/// get that very address from the kernel, so they run alone (after the tests that run in parallel).
/// </summary>
[Collection(ProcessWideState.Name)]
public class Ex07RaiiMappingsTests
{
    struct Point3
    {
        public long X, Y, Z;
    }

    [InlineArray(10_000)]
    struct TenThousandBytes
    {
        byte first;
    }

    static long Page => SysConf.PageSize;

    static bool IsMapped(nint address) => ProcMaps.Find(address) is not null;

    /// <summary>Runs finalizers until <paramref name="done"/> holds (or gives up after a few rounds).</summary>
    static void CollectUntil(Func<bool> done)
    {
        for (int i = 0; i < 10 && !done(); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static nint Abandon(long value) => new MappedBox<long>(value).Address;

    /// <summary>Disposes a box, lets a new mapping take its address if the kernel allows (MAP_FIXED_NOREPLACE), and
    /// returns that mapping (or null) with the box, which the caller then releases again.</summary>
    static (MappedBox<long> Box, Mapping? Successor) DisposeAndReuse()
    {
        var box = new MappedBox<long>(1);
        nint a = box.Address;
        box.Dispose();
        try
        {
            var successor = Mman.Map(Page, Prot.PROT_READ | Prot.PROT_WRITE,
                MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS | MapFlags.MAP_FIXED_NOREPLACE, address: a);
            return (box, successor);
        }
        catch (PosixException)
        {
            return (box, null); // someone else took the page: nothing to check then
        }
    }

    [Fact, Graded(lesson: 7, points: 3)]
    public void TheValueIsConstructedInAFreshAnonymousMapping()
    {
        using var box = new MappedBox<Point3>(new Point3 { X = 1, Y = 2, Z = 3 });
        nint a = box.Address;
        Assert.Equal(0, a % Page);
        var region = ProcMaps.Find(a);
        Assert.NotNull(region);
        Assert.Equal(RegionKind.Anonymous, region.Kind);
        Assert.Equal("rw-p", region.Permissions);
        Assert.Equal(1, Marshal.ReadInt64(a));
        Assert.Equal(2, Marshal.ReadInt64(a + 8));
        Assert.Equal(3, Marshal.ReadInt64(a + 16));
    }

    [Fact, Graded(lesson: 7, points: 2)]
    public void ValueIsAReferenceIntoTheMapping()
    {
        using var box = new MappedBox<Point3>(new Point3 { X = 1, Y = 2, Z = 3 });
        Assert.Equal(2, box.Value.Y);
        ref var p = ref box.Value;
        p.Z = 42;
        box.Value.X = -7;
        Assert.Equal(42, Marshal.ReadInt64(box.Address + 16));
        Assert.Equal(-7, Marshal.ReadInt64(box.Address));
        Marshal.WriteInt64(box.Address + 8, 99);
        Assert.Equal(99, p.Y);
    }

    [Fact, Graded(lesson: 7, points: 2)]
    public void EachBoxHasItsOwnMapping()
    {
        using var a = new MappedBox<int>(1);
        using var b = new MappedBox<int>(2);
        Assert.True(Math.Abs((long)a.Address - b.Address) >= Page);
        Assert.Equal(1, a.Value);
        Assert.Equal(2, b.Value);
    }

    [Fact, Graded(lesson: 7, points: 3)]
    public void DisposeUnmapsAndASecondDisposeIsHarmless()
    {
        var box = new MappedBox<long>(5);
        nint a = box.Address;
        Assert.True(IsMapped(a));
        Assert.False(box.IsDisposed);
        box.Dispose();
        Assert.True(box.IsDisposed);
        Assert.False(IsMapped(a), $"0x{a:x} is still mapped after Dispose");
        box.Dispose();
        Assert.True(box.IsDisposed);
    }

    [Fact, Graded(lesson: 7, points: 2)]
    public void UseAfterDisposeThrows()
    {
        var box = new MappedBox<long>(5);
        box.Dispose();
        // IsDisposed reads the field Release clears; when it is still set, touching Value would read unmapped memory
        // and crash the test process, so stop here.
        Assert.True(box.IsDisposed, "Dispose left the box's address in place");
        // Take the ref without reading through it: if no exception comes, nothing touches the (unmapped) memory.
        Assert.Throws<ObjectDisposedException>(() => Unsafe.IsNullRef(ref box.Value));
        Assert.Throws<ObjectDisposedException>(() => box.Address);
    }

    [Fact, Graded(lesson: 7, points: 3)]
    public void TheFinalizerUnmapsABoxNobodyDisposed()
    {
        nint a = Abandon(123);
        CollectUntil(() => !IsMapped(a));
        Assert.False(IsMapped(a), $"the abandoned box's mapping at 0x{a:x} is still there after the finalizers ran");
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 7, points: 3, Hidden = true)]
    public void ASecondDisposeDoesNotUnmapTheNextOwnerOfTheAddress()
    {
        var (box, successor) = DisposeAndReuse();
        using (successor)
        {
            nint a = successor?.Address ?? 0;
            box.Dispose();
            if (successor is not null)
                Assert.True(IsMapped(a), $"the second Dispose unmapped 0x{a:x}, which another mapping owned by then");
        }
    }

    [Fact, Graded(lesson: 7, points: 3, Hidden = true)]
    public void TheFinalizerOfADisposedBoxDoesNotUnmapTheNextOwner()
    {
        var (successor, a) = DropDisposedBox();
        using (successor)
        {
            CollectUntil(() => false);
            if (successor is not null)
                Assert.True(IsMapped(a), $"a finalizer unmapped 0x{a:x}, which another mapping owned by then");
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static (Mapping?, nint) DropDisposedBox()
        {
            var (_, successor) = DisposeAndReuse();
            return (successor, successor?.Address ?? 0);
        }
    }

    [Fact, Graded(lesson: 7, points: 2, Hidden = true)]
    public void AValueLargerThanAPageIsMappedWhole()
    {
        var big = new TenThousandBytes();
        for (int i = 0; i < 10_000; i++) big[i] = (byte)i;
        using var box = new MappedBox<TenThousandBytes>(big);
        Assert.Equal(10_000, MappedBox<TenThousandBytes>.Size);
        var first = ProcMaps.Find(box.Address);
        var last = ProcMaps.Find(box.Address + 9_999);
        Assert.NotNull(first);
        Assert.NotNull(last);
        Assert.Equal("rw-p", last.Permissions);
        Assert.Equal(unchecked((byte)9_999), Marshal.ReadByte(box.Address + 9_999));
        Assert.Equal(unchecked((byte)4_321), box.Value[4_321]);
    }

    [Fact, Graded(lesson: 7, points: 2, Hidden = true)]
    public void DisposingFromManyThreadsUnmapsOnce()
    {
        for (int round = 0; round < 20; round++)
        {
            var box = new MappedBox<long>(round);
            nint a = box.Address;
            Parallel.For(0, 4, _ => box.Dispose());
            Assert.True(box.IsDisposed);
            Assert.False(IsMapped(a), $"0x{a:x} is still mapped after Dispose from four threads");
        }
    }
    // END HIDDEN TESTS
}

using Lessons.Heap;
using Lessons.Posix;

namespace Lessons.Tests.Heap;

public class SimulatedBreakTests
{
    [Fact]
    public void StartsEmptyWithAPageRoundedMaximum()
    {
        using var brk = new SimulatedBreak(1000);
        Assert.Equal(SysConf.PageSize, brk.MaxSize);
        Assert.Equal(0, brk.Size);
        Assert.Equal(brk.HeapLo, brk.Break);
        Assert.Equal(brk.HeapLo - 1, brk.HeapHi);
        Assert.Equal(0, brk.HeapLo % SysConf.PageSize);
        Assert.True(brk.Span.IsEmpty);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void ANonPositiveMaximumIsRejected(long max)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new SimulatedBreak(max));
        Assert.Contains("positive", e.Message);
    }

    [Fact]
    public void SbrkReturnsTheOldBreakAndMovesIt()
    {
        using var brk = new SimulatedBreak(8192);
        nint lo = brk.HeapLo;
        Assert.Equal(lo, brk.Sbrk(100));
        Assert.Equal(lo + 100, brk.Sbrk(28));
        Assert.Equal(128, brk.Size);
        Assert.Equal(lo + 127, brk.HeapHi);
        Assert.Equal(lo + 128, brk.Sbrk(0));
        Assert.Equal(lo + 128, brk.Sbrk(-28));
        Assert.Equal(100, brk.Size);
        Assert.Equal(100, brk.Span.Length);
    }

    [Fact]
    public void TheBytesInUseAreWritableAndGivenBackZeroed()
    {
        using var brk = new SimulatedBreak(4096);
        brk.Sbrk(64);
        brk.Span.Fill(0xAB);
        brk.Sbrk(-32);
        brk.Sbrk(32);
        Assert.All(brk.Span[..32].ToArray(), b => Assert.Equal(0xAB, b));
        Assert.All(brk.Span[32..].ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void GrowingToTheMaximumWorksAndPastItIsEnomemWithNothingChanged()
    {
        using var brk = new SimulatedBreak(4096);
        brk.Sbrk(brk.MaxSize);
        Assert.Equal(brk.MaxSize, brk.Size);
        var e = Assert.Throws<PosixException>(() => brk.Sbrk(1));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.Contains("sbrk(increment=1)", e.Message);
        Assert.Equal(brk.MaxSize, brk.Size);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => brk.Sbrk(long.MaxValue)).Errno);
    }

    [Fact]
    public void ShrinkingBelowHeapLoIsEinvalWithNothingChanged()
    {
        using var brk = new SimulatedBreak(4096);
        brk.Sbrk(10);
        var e = Assert.Throws<PosixException>(() => brk.Sbrk(-11));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("sbrk(increment=-11)", e.Message);
        Assert.Contains("below the start of the heap", e.Message);
        Assert.Equal(10, brk.Size);
        Assert.Equal(brk.HeapLo + 10, brk.Sbrk(-10));
        Assert.Equal(brk.HeapLo, brk.Break);
    }

    [Fact]
    public void BrkAndResetSetTheBreak()
    {
        using var brk = new SimulatedBreak(4096);
        brk.Brk(brk.HeapLo + 200);
        Assert.Equal(200, brk.Size);
        Assert.Equal(Errno.EINVAL, Assert.Throws<PosixException>(() => brk.Brk(brk.HeapLo - 1)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => brk.Brk(brk.HeapLo + 4097)).Errno);
        brk.Reset();
        Assert.Equal(0, brk.Size);
    }

    [Fact]
    public void UseAfterDisposeThrows()
    {
        var brk = new SimulatedBreak(4096);
        brk.Sbrk(16);
        brk.Dispose();
        brk.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => brk.Sbrk(1));
        Assert.Throws<ObjectDisposedException>(() => brk.Break);
        Assert.Throws<ObjectDisposedException>(() => brk.Size);
        Assert.Throws<ObjectDisposedException>(() => brk.Reset());
        Assert.Throws<ObjectDisposedException>(() => brk.Span.Length);
        Assert.Contains("disposed", brk.ToString());
    }
}

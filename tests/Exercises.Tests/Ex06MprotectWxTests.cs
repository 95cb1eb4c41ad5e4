using System.Runtime.InteropServices;
using Exercises;
using Grading;
using Lessons.L06_MprotectWx;
using Lessons.Posix;

namespace Exercises.Tests;

// Safety nets, so that a wrong solution fails a test instead of killing the test host with SIGSEGV:
// - before calling code, a test checks that /proc/self/maps shows the page executable;
// - before a write that must be refused, a test makes the sealed pages writable again behind the class's back
//   (Unlocked), so that a Write that does not refuse lands in writable memory, where the test sees it.
public class Ex06MprotectWxTests
{
    static long Page => SysConf.PageSize;

    static string? Perms(nint address) => ProcMaps.Find(address)?.Permissions;

    static byte[] Code(int value) => MachineCode.ReturnConstant(value);

    static unsafe byte[] Bytes(nint address, int count) => new ReadOnlySpan<byte>((void*)address, count).ToArray();

    static int SafeInvoke(CodeBuffer b, long offset = 0)
    {
        Assert.Equal("r-xp", Perms(b.Address + (nint)offset)); // calling a non-executable page would crash the test host
        return b.Invoke(offset);
    }

    /// <summary>Makes the sealed buffer writable (and executable, where the kernel allows RWX) until disposed.</summary>
    sealed class Unlocked : IDisposable
    {
        readonly CodeBuffer b;

        public Unlocked(CodeBuffer b)
        {
            this.b = b;
            try { Mman.Protect(b.Address, b.Capacity, Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC); }
            catch (PosixException) { Mman.Protect(b.Address, b.Capacity, Prot.PROT_READ | Prot.PROT_WRITE); }
        }

        public void Dispose() => Mman.Protect(b.Address, b.Capacity, Prot.PROT_READ | Prot.PROT_EXEC);
    }

    [Fact, Graded(lesson: 6, points: 2)]
    public void WriteCopiesTheBytesWhileTheBufferIsWritable()
    {
        using var b = new CodeBuffer(100);
        Assert.Equal(Page, b.Capacity);
        Assert.False(b.IsSealed);
        byte[] code = Code(42);

        b.Write(10, code);

        Assert.Equal(code, Bytes(b.Address + 10, code.Length));
        Assert.Equal(new byte[10], Bytes(b.Address, 10));
        Assert.Equal("rw-p", Perms(b.Address));
    }

    [Fact, Graded(lesson: 6, points: 2)]
    public void WritesThatDoNotFitAreRefusedAndWriteNothing()
    {
        using var b = new CodeBuffer(Page);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Write(-1, [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Write(Page - 2, [1, 2, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Write(Page + 1, []));
        Assert.Equal(new byte[2], Bytes(b.Address + (nint)Page - 2, 2));
        b.Write(Page - 3, [1, 2, 3]); // exactly to the end
        b.Write(Page, []);
        Assert.Equal(new byte[] { 1, 2, 3 }, Bytes(b.Address + (nint)Page - 3, 3));
    }

    [Fact, Graded(lesson: 6, points: 3)]
    public void ASealedBufferIsReadOnlyExecutableAndItsCodeRuns()
    {
        using var b = new CodeBuffer(64);
        b.Write(0, Code(42));

        b.Seal();

        Assert.True(b.IsSealed);
        Assert.Equal("r-xp", Perms(b.Address));
        Assert.Equal(42, SafeInvoke(b));
        Assert.Equal(b.Address, b.EntryPoint(0));
    }

    [Fact, Graded(lesson: 6, points: 2)]
    public void NoEntryPointBeforeSealing()
    {
        using var b = new CodeBuffer(64);
        b.Write(0, Code(42));
        var e = Assert.Throws<InvalidOperationException>(() => b.EntryPoint(0));
        Assert.Contains("seal", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("rw-p", Perms(b.Address));
    }

    [Fact, Graded(lesson: 6, points: 3)]
    public void AWriteAfterSealingIsRefusedWithAClearError()
    {
        using var b = new CodeBuffer(64);
        b.Write(0, Code(42));
        b.Seal();
        byte[] before = Bytes(b.Address, 16);

        using (new Unlocked(b))
        {
            var e = Assert.Throws<InvalidOperationException>(() => b.Write(0, Code(7)));
            Assert.Contains("sealed", e.Message, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(before, Bytes(b.Address, 16));
    }

    [Fact, Graded(lesson: 6, points: 2)]
    public void DisposeUnmapsOnceAndUseAfterwardsIsRefused()
    {
        var b = new CodeBuffer(64);
        b.Write(0, Code(42));
        nint a = b.Address;
        var region = ProcMaps.Find(a);

        b.Dispose();
        b.Dispose();

        Assert.True(b.IsDisposed);
        var after = ProcMaps.Find(a);
        Assert.True(after is null || after != region, "the buffer's pages must be unmapped");
        Assert.Throws<ObjectDisposedException>(() => b.Write(0, Code(1)));
        Assert.Throws<ObjectDisposedException>(() => b.Seal());
        Assert.Throws<ObjectDisposedException>(() => b.EntryPoint(0));
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 6, points: 2, Hidden = true)]
    public void MapsShowsEachStage()
    {
        var b = new CodeBuffer(3 * Page);
        nint a = b.Address, last = a + (nint)(2 * Page);
        Assert.Equal(("rw-p", "rw-p"), (Perms(a), Perms(last)));
        b.Write(0, Code(1));
        Assert.Equal(("rw-p", "rw-p"), (Perms(a), Perms(last)));
        b.Seal();
        Assert.Equal(("r-xp", "r-xp"), (Perms(a), Perms(last))); // every page, not only the first
        var region = ProcMaps.Find(a);
        b.Dispose();
        var after = ProcMaps.Find(last);
        Assert.True(after is null || after != region, "the buffer's pages must be unmapped");
    }

    [Fact, Graded(lesson: 6, points: 2, Hidden = true)]
    public void BuffersLargerThanAPageHoldSeveralFunctions()
    {
        using var b = new CodeBuffer(Page + 1);
        Assert.Equal(2 * Page, b.Capacity);
        long second = Page + 100, straddling = Page - 3;
        b.Write(0, Code(11));
        b.Write(second, Code(22));
        b.Write(straddling, Code(33)); // crosses the page boundary
        b.Seal();
        Assert.Equal(11, SafeInvoke(b));
        Assert.Equal(22, SafeInvoke(b, second));
        Assert.Equal(33, SafeInvoke(b, straddling));
        Assert.Equal(b.Address + (nint)second, b.EntryPoint(second));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.EntryPoint(2 * Page));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.EntryPoint(-1));
    }

    [Fact, Graded(lesson: 6, points: 1, Hidden = true)]
    public void SealingTwiceIsHarmless()
    {
        using var b = new CodeBuffer(64);
        b.Write(0, Code(5));
        b.Seal();
        b.Seal();
        Assert.True(b.IsSealed);
        Assert.Equal("r-xp", Perms(b.Address));
        Assert.Equal(5, SafeInvoke(b));
    }

    [Fact, Graded(lesson: 6, points: 2, Hidden = true)]
    public void TheCodeStillRunsAfterARefusedWrite()
    {
        using var b = new CodeBuffer(2 * Page);
        b.Write(Page, Code(42));
        b.Seal();
        using (new Unlocked(b))
        {
            Assert.Throws<InvalidOperationException>(() => b.Write(Page, Code(13)));
            Assert.Throws<InvalidOperationException>(() => b.Write(0, []));
        }
        Assert.Equal(42, SafeInvoke(b, Page));
        Assert.True(b.IsSealed);
    }

    [Fact, Graded(lesson: 6, points: 1, Hidden = true)]
    public void DisposingIsCheckedBeforeSealing()
    {
        var b = new CodeBuffer(64);
        b.Write(0, Code(1));
        b.Seal();
        b.Dispose();
        Assert.Throws<ObjectDisposedException>(() => b.Write(0, Code(1)));
        Assert.Throws<ObjectDisposedException>(() => b.EntryPoint(0));
        Assert.Throws<ObjectDisposedException>(() => b.Seal());
        Assert.Throws<ObjectDisposedException>(() => b.Invoke());
    }

    // END HIDDEN TESTS

    // Not graded: the constructor is given code, not the student's.
    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    [InlineData(long.MaxValue)]
    public void ImpossibleSizesAreRefused(long size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CodeBuffer(size));
}

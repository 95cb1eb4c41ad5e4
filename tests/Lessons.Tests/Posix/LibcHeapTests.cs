using System.Runtime.InteropServices;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.Posix;

[Collection(ProcessWideState.Name)] // mallopt changes (and consolidates) the main arena of the whole process
public class LibcHeapTests
{
    [Fact]
    public void MallocGivesAtLeastWhatWasAsked()
    {
        nint p = LibcHeap.Malloc(100);
        try
        {
            Assert.NotEqual(0, p);
            Assert.Equal(0, p % 16);
            Assert.InRange(LibcHeap.UsableSize(p), 100, 200);
        }
        finally { LibcHeap.Free(p); }
    }

    [Fact]
    public unsafe void CallocZeroes()
    {
        nint p = LibcHeap.Calloc(64, 8);
        try { Assert.All(new Span<byte>((void*)p, 512).ToArray(), b => Assert.Equal(0, b)); }
        finally { LibcHeap.Free(p); }
    }

    [Fact]
    public void CallocOverflowIsEnomemFromGlibc()
    {
        var e = Assert.Throws<PosixException>(() => LibcHeap.Calloc(1L << 40, 1L << 40));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.Contains("overflows", e.Message);
    }

    [Fact]
    public void HugeMallocIsEnomem()
    {
        var e = Assert.Throws<PosixException>(() => LibcHeap.Malloc(long.MaxValue));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.StartsWith($"malloc(size={long.MaxValue}): ENOMEM (Cannot allocate memory)", e.Message);
    }

    [Fact]
    public void ReallocKeepsContentsAndFollowsCSemantics()
    {
        nint p = LibcHeap.Realloc(0, 16); // realloc(NULL, n) is malloc
        Marshal.WriteInt64(p, 0x1122334455667788);
        nint q = LibcHeap.Realloc(p, 1 << 20);
        Assert.Equal(0x1122334455667788, Marshal.ReadInt64(q));
        Assert.False(q != p && LibcHeap.IsLive(p));
        Assert.Equal(0, LibcHeap.Realloc(q, 0)); // realloc(p, 0) frees in glibc
        Assert.False(LibcHeap.IsLive(q));
    }

    [Fact]
    public void FailedReallocLeavesTheOldBlock()
    {
        nint p = LibcHeap.Malloc(32);
        Marshal.WriteInt32(p, 1234);
        var e = Assert.Throws<PosixException>(() => LibcHeap.Realloc(p, long.MaxValue));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.Contains("unchanged", e.Message);
        Assert.Equal(1234, Marshal.ReadInt32(p));
        LibcHeap.Free(p);
    }

    [Fact]
    public void DoubleFreeAndForeignFreeAreClearErrorsNotCrashes()
    {
        nint p = LibcHeap.Malloc(24);
        LibcHeap.Free(p);
        var twice = Assert.Throws<HeapMisuseException>(() => LibcHeap.Free(p));
        Assert.Contains("double free", twice.Message);
        var foreign = Assert.Throws<HeapMisuseException>(() => LibcHeap.Free(0x1234));
        Assert.Contains("never returned by malloc", foreign.Message);
        LibcHeap.Free(0); // free(NULL) does nothing
        nint still = LibcHeap.Malloc(24); // the heap still works
        LibcHeap.Free(still);
    }

    [Fact]
    public void NegativeSizesAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LibcHeap.Malloc(-5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LibcHeap.Calloc(-1, 8));
    }

    [Fact]
    public void MalloptAcceptsAThresholdAndRejectsNonsense()
    {
        LibcHeap.Mallopt(MalloptParam.M_MXFAST, 128); // glibc's default on 64-bit: nothing changes for other tests
        var e = Assert.Throws<PosixException>(() => LibcHeap.Mallopt(MalloptParam.M_MXFAST, 1000)); // fastbins stop at 160 bytes
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void MallinfoCountsAMappedChunk()
    {
        nint p = LibcHeap.Malloc(64L << 20); // above any mmap threshold
        try { Assert.True(LibcHeap.MallInfo().hblkhd >= 64u << 20); }
        finally { LibcHeap.Free(p); }
    }

    [Fact]
    public void TrimGivesFreePagesBackAndRefusesANegativePad()
    {
        // 32 free 32 KiB chunks in a row, held away from the top by a last live block: malloc_trim(0) releases their pages.
        var blocks = Enumerable.Range(0, 33).Select(_ => LibcHeap.Malloc(32 * 1024)).ToArray();
        foreach (nint p in blocks[..^1]) LibcHeap.Free(p);
        try { Assert.True(LibcHeap.Trim(0)); }
        finally { LibcHeap.Free(blocks[^1]); }
        Assert.Throws<ArgumentOutOfRangeException>(() => LibcHeap.Trim(-1));
    }
}

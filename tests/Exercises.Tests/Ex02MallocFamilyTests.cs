using System.Text;
using Exercises;
using Grading;
using Lessons.Heap;
using Lessons.Posix;

namespace Exercises.Tests;

public class Ex02MallocFamilyTests
{
    static unsafe Span<byte> Bytes(nint p, long n) => new((void*)p, (int)n);

    static unsafe bool AllZero(nint p, long n) => Bytes(p, n).IndexOfAnyExcept((byte)0) < 0;

    /// <summary>Concatenate4 on four fresh strings; the result's text and the report once everything is freed.</summary>
    static (string Text, HeapReport Report) Concat4(string a, string b, string c, string d)
    {
        using var heap = new CheckingHeap();
        nint[] p = [heap.Strdup(a), heap.Strdup(b), heap.Strdup(c), heap.Strdup(d)];
        nint r = Ex02MallocFamily.Concatenate4(heap, p[0], p[1], p[2], p[3]);
        string text = heap.ReadString(r);
        Assert.Equal(Encoding.UTF8.GetByteCount(a + b + c + d) + 1, heap.SizeOf(r));
        heap.Free(r);
        foreach (var x in p) heap.Free(x);
        Assert.Empty(heap.Check());
        return (text, heap.Report());
    }

    [Fact, Graded(lesson: 2, points: 2)]
    public void Xmalloc0GivesZeroedFreeableMemory()
    {
        for (int round = 0; round < 3; round++)
        {
            nint dirty = LibcHeap.Malloc(4096);
            Bytes(dirty, 4096).Fill(0xEE);
            LibcHeap.Free(dirty);
            nint p = Ex02MallocFamily.Xmalloc0(4096);
            Assert.True(LibcHeap.IsLive(p), "allocate through LibcHeap so that LibcHeap.Free can free the block");
            Assert.True(AllZero(p, 4096), "Xmalloc0 must return zeroed memory");
            LibcHeap.Free(p);
        }
    }

    [Fact, Graded(lesson: 2, points: 1)]
    public void Xmalloc0RefusesNegativeSizes()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ex02MallocFamily.Xmalloc0(-1));
        Assert.Equal("size", e.ParamName);
    }

    [Fact, Graded(lesson: 2, points: 3)]
    public void Concatenate4JoinsAndLeaksNothing()
    {
        var (text, report) = Concat4("ab", "cd", "ef", "gh");
        Assert.Equal("abcdefgh", text);
        Assert.Equal(0, report.DefinitelyLostBytes);
        Assert.Equal(0, report.DefinitelyLostBlocks);
    }

    [Fact, Graded(lesson: 2, points: 2)]
    public void TryGrowKeepsContentsAndFills()
    {
        using var heap = new CheckingHeap();
        nint buffer = heap.Strdup("abc");
        Assert.True(Ex02MallocFamily.TryGrow(heap, ref buffer, 8, (byte)'x'));
        Assert.Equal("abc\0xxxx"u8.ToArray(), heap.Span(buffer).ToArray());
        heap.Free(buffer);
        Assert.Equal(0, heap.Report().InUseBlocks);
    }

    [Fact, Graded(lesson: 2, points: 2)]
    public void TryGrowKeepsTheOldBlockWhenThereIsNoMemory()
    {
        using var heap = new CheckingHeap();
        nint buffer = heap.Strdup("keep me");
        nint before = buffer;
        Assert.False(Ex02MallocFamily.TryGrow(heap, ref buffer, 1L << 62, 0));
        Assert.Equal(before, buffer);
        Assert.True(heap.IsLive(buffer));
        Assert.Equal("keep me", heap.ReadString(buffer));
        heap.Free(buffer);
        Assert.Equal(0, heap.Report().InUseBlocks);
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 2, points: 1, Hidden = true)]
    public void Xmalloc0OfZeroIsUniqueAndFreeable()
    {
        nint a = Ex02MallocFamily.Xmalloc0(0), b = Ex02MallocFamily.Xmalloc0(0);
        Assert.NotEqual(0, a);
        Assert.NotEqual(a, b);
        LibcHeap.Free(a);
        LibcHeap.Free(b);
    }

    [Theory, Graded(lesson: 2, points: 2, Hidden = true)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 15)]
    [InlineData(1L << 62)]
    [InlineData(1L << 48)]
    public void Xmalloc0ThrowsENOMEMForHugeSizes(long size) =>
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => Ex02MallocFamily.Xmalloc0(size)).Errno);

    [Theory, Graded(lesson: 2, points: 1, Hidden = true)]
    [InlineData(long.MinValue)]
    [InlineData(-4096)]
    public void Xmalloc0RefusesVeryNegativeSizes(long size) =>
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => Ex02MallocFamily.Xmalloc0(size)).ParamName);

    [Theory, Graded(lesson: 2, points: 2, Hidden = true)]
    [InlineData("", "", "", "")]
    [InlineData("", "x", "", "")]
    [InlineData("héllo", ", ", "世界", " 🎉")]
    [InlineData("a", "bb", "ccc", "dddd")]
    public void Concatenate4HandlesEmptyAndUnicodeStrings(string a, string b, string c, string d)
    {
        var (text, report) = Concat4(a, b, c, d);
        Assert.Equal(a + b + c + d, text);
        Assert.Equal((0L, 0), (report.InUseBytes, report.InUseBlocks));
        Assert.Equal(report.Allocs, report.Frees);
    }

    [Fact, Graded(lesson: 2, points: 1, Hidden = true)]
    public void TryGrowShrinksAndRefusesNegativeSizes()
    {
        using var heap = new CheckingHeap();
        nint buffer = heap.Strdup("abcdef");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ex02MallocFamily.TryGrow(heap, ref buffer, -1, 0));
        Assert.Equal("newSize", e.ParamName);
        Assert.Equal("abcdef", heap.ReadString(buffer));
        Assert.True(Ex02MallocFamily.TryGrow(heap, ref buffer, 3, 0));
        Assert.Equal("abc"u8.ToArray(), heap.Span(buffer).ToArray());
        Assert.True(Ex02MallocFamily.TryGrow(heap, ref buffer, 0, 0)); // frees, as realloc(p, 0) does in glibc
        Assert.Equal(0, buffer);
        Assert.Equal((0, 0L), (heap.Report().InUseBlocks, heap.Report().InUseBytes));
        Assert.Equal(heap.Report().Allocs, heap.Report().Frees);
    }

    [Theory, Graded(lesson: 2, points: 1, Hidden = true)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MaxValue - 8)]
    public void TryGrowFailsCleanlyNearTheTopOfLong(long size)
    {
        using var heap = new CheckingHeap();
        nint buffer = heap.Malloc(16);
        heap.Span(buffer).Fill(7);
        Assert.False(Ex02MallocFamily.TryGrow(heap, ref buffer, size, 0));
        Assert.True(heap.Span(buffer).IndexOfAnyExcept((byte)7) < 0);
        heap.Free(buffer);
        Assert.Equal(0, heap.Report().InUseBlocks);
    }
    // END HIDDEN TESTS
}

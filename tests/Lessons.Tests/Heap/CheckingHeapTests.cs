using System.Runtime.CompilerServices;
using Lessons.Heap;
using Lessons.Posix;

namespace Lessons.Tests.Heap;

public class CheckingHeapTests
{
    [Fact]
    public void CountsAllocsFreesAndBytesLikeValgrind()
    {
        using var heap = new CheckingHeap();
        nint a = heap.Malloc(10);
        nint b = heap.Calloc(4, 8);
        nint c = heap.Malloc(0);
        heap.Free(a);
        var r = heap.Report();
        Assert.Equal((32L, 2), (r.InUseBytes, r.InUseBlocks));
        Assert.Equal((3L, 1L, 42L), (r.Allocs, r.Frees, r.BytesAllocated));
        Assert.Contains("in use at exit: 32 bytes in 2 blocks", r.ToString());
        Assert.Contains("total heap usage: 3 allocs, 1 frees, 42 bytes allocated", r.ToString());
        Assert.Contains("definitely lost: 32 bytes in 2 blocks", r.ToString());
        Assert.NotEqual(0, c);
        heap.Free(b);
        heap.Free(c);
        Assert.Contains("no leaks are possible", heap.Report().ToString());
    }

    [Fact]
    public void GroupsLeaksByCallSite()
    {
        using var heap = new CheckingHeap();
        for (int i = 0; i < 3; i++) heap.Malloc(5);
        nint other = heap.Malloc(7);
        var r = heap.Report();
        Assert.Equal(2, r.Leaks.Count);
        Assert.Equal((15L, 3), (r.Leaks[0].Bytes, r.Leaks[0].Blocks));
        Assert.Equal(nameof(GroupsLeaksByCallSite), r.Leaks[0].Site.Member);
        Assert.EndsWith("CheckingHeapTests.cs", r.Leaks[0].Site.File);
        Assert.Equal(r.Leaks[0].Site.Line + 1, r.Leaks[1].Site.Line);
        Assert.Contains($"15 bytes in 3 blocks are definitely lost, allocated at {nameof(GroupsLeaksByCallSite)} (CheckingHeapTests.cs:", r.ToString());
        heap.Free(other);
    }

    [Fact]
    public void CallocZeroesAndMallocOfZeroIsUnique()
    {
        using var heap = new CheckingHeap(quarantineLimit: 0);
        nint dirty = heap.Malloc(100);
        heap.Span(dirty).Fill(0x77);
        heap.Free(dirty);
        nint z = heap.Calloc(10, 10);
        Assert.True(heap.Span(z).IndexOfAnyExcept((byte)0) < 0);
        nint e1 = heap.Malloc(0), e2 = heap.Malloc(0);
        Assert.NotEqual(e1, e2);
        Assert.Equal(0, heap.SizeOf(e1));
        heap.Free(e1); heap.Free(e2); heap.Free(z);
    }

    [Fact]
    public void DoubleFreeThrowsNamingBothSitesAndChangesNothing()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Malloc(16);
        heap.Free(p);
        var before = heap.Report();
        var e = Assert.Throws<HeapMisuseException>(() => heap.Free(p));
        Assert.Contains("double free", e.Message);
        Assert.Contains(nameof(DoubleFreeThrowsNamingBothSitesAndChangesNothing), e.Message);
        var after = heap.Report();
        Assert.Equal((before.Allocs, before.Frees, before.InUseBytes), (after.Allocs, after.Frees, after.InUseBytes));
        Assert.Equal(16, heap.QuarantineBytes);
        Assert.Empty(heap.Check());
    }

    [Fact]
    public void DoubleFreeAfterTheQuarantineIsStillRefused()
    {
        using var heap = new CheckingHeap(quarantineLimit: 0);
        nint p = heap.Malloc(16);
        heap.Free(p);
        Assert.Throws<HeapMisuseException>(() => heap.Free(p));
    }

    [Fact]
    public void InvalidFreeThrowsForForeignAndInteriorPointers()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Malloc(32);
        var inside = Assert.Throws<HeapMisuseException>(() => heap.Free(p + 8));
        Assert.Contains("8 bytes into the block", inside.Message);
        nint foreign = LibcHeap.Malloc(8);
        try { Assert.Contains("never returned", Assert.Throws<HeapMisuseException>(() => heap.Free(foreign)).Message); }
        finally { LibcHeap.Free(foreign); }
        Assert.True(heap.IsLive(p));
        heap.Free(p);
        Assert.Equal(0, heap.Report().InUseBlocks);
        heap.Free(0); // free(NULL) does nothing
    }

    [Fact]
    public void BadSizesAreClearErrors()
    {
        using var heap = new CheckingHeap();
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.Malloc(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.Calloc(-1, 4));
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => heap.Malloc(long.MaxValue)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => heap.Malloc(long.MaxValue - 8)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => heap.Malloc(1L << 62)).Errno);
        var overflow = Assert.Throws<PosixException>(() => heap.Calloc(1L << 32, 1L << 32));
        Assert.Contains("overflow", overflow.Message);
        var r = heap.Report();
        Assert.Equal((0L, 0L), (r.Allocs, r.Frees));
    }

    [Fact]
    public void FindsAWriteAfterFreeWithBothCallSites()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Malloc(40);
        heap.Free(p);
        Assert.Empty(heap.Check());
        unsafe { ((byte*)p)[12] = 42; } // a dangling pointer, still mapped because the block is quarantined
        var problem = Assert.Single(heap.Check());
        Assert.Equal(HeapProblemKind.WriteAfterFree, problem.Kind);
        Assert.Equal((12L, 1, (byte)42), (problem.Offset, problem.DamagedBytes, problem.Found));
        Assert.NotNull(problem.Block.FreedAt);
        Assert.Contains("allocated at", problem.ToString());
        Assert.Contains("freed at", problem.ToString());
    }

    [Fact]
    public void FindsAnOverflowIntoTheGuardBytes()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Malloc(10);
        unsafe { ((byte*)p)[10] = 0; ((byte*)p)[11] = 0; }
        var problem = Assert.Single(heap.Check());
        Assert.Equal(HeapProblemKind.Overflow, problem.Kind);
        Assert.Equal((10L, 2), (problem.Offset, problem.DamagedBytes));
        heap.Free(p);
    }

    [Fact]
    public void QuarantineIsFifoAndBounded()
    {
        using var heap = new CheckingHeap(quarantineLimit: 100);
        var blocks = Enumerable.Range(0, 5).Select(_ => heap.Malloc(40)).ToList();
        nint first = blocks[0];
        unsafe
        {
            heap.Free(blocks[0]);
            ((byte*)first)[0] = 1; // damaged while quarantined; found when it leaves the quarantine
        }
        heap.Free(blocks[1]);
        Assert.Equal(80, heap.QuarantineBytes);
        heap.Free(blocks[2]); // 120 > 100: the oldest (blocks[0]) is really freed
        Assert.Equal(80, heap.QuarantineBytes);
        var found = Assert.Single(heap.Check());
        Assert.Equal(first, found.Block.Address);
        Assert.Empty(heap.Check());
        heap.Free(blocks[3]);
        heap.Free(blocks[4]);
    }

    [Fact]
    public void ReallocMovesKeepsContentsAndQuarantinesTheOldBlock()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Strdup("hello");
        nint q = heap.Realloc(p, 100);
        Assert.NotEqual(p, q);
        Assert.Equal("hello", heap.ReadString(q));
        Assert.Throws<HeapMisuseException>(() => heap.Free(p));
        nint r = heap.Realloc(0, 3); // realloc(NULL, n) is malloc
        Assert.Equal(3, heap.SizeOf(r));
        var e = Assert.Throws<PosixException>(() => heap.Realloc(q, long.MaxValue));
        Assert.Contains("unchanged", e.Message);
        Assert.Equal("hello", heap.ReadString(q));
        Assert.Equal(0, heap.TryRealloc(q, 1L << 62));
        Assert.True(heap.IsLive(q));
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.Realloc(q, -5));
        heap.Free(q); heap.Free(r);
        var rep = heap.Report();
        Assert.Equal((3L, 3L, 0), (rep.Allocs, rep.Frees, rep.InUseBlocks));
    }

    [Fact]
    public void ReallocToZeroFreesAndReturnsNullAsGlibcDoes()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Strdup("bye"), q = heap.Malloc(8);

        Assert.Equal(0, heap.Realloc(p, 0));
        Assert.Equal(0, heap.TryRealloc(q, 0));

        Assert.False(heap.IsLive(p));
        Assert.False(heap.IsLive(q));
        Assert.Throws<HeapMisuseException>(() => heap.Free(p)); // freed by the realloc: a second free is a double free
        var rep = heap.Report();
        Assert.Equal((2L, 2L, 0, 0L), (rep.Allocs, rep.Frees, rep.InUseBlocks, rep.InUseBytes));
        Assert.Equal(0, LibcHeap.Realloc(LibcHeap.Malloc(8), 0)); // what glibc itself does
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int ReadByteAt(nint p) => *(byte*)p;

    [Fact]
    public void PageGuardsTurnAReadAfterFreeAndAReadPastTheEndIntoAFault()
    {
        using var heap = new CheckingHeap(pageGuards: true);
        nint p = heap.Malloc(100), q = heap.Calloc(1, 4000);
        heap.Span(p).Fill(42);

        Assert.Equal(42, Fork.Run(ReadByteAt, p).ExitCode); // a live block reads fine
        Assert.Equal(0, Fork.Run(ReadByteAt, q + 3999).ExitCode); // calloc'ed: zero
        Assert.Equal(Signal.SIGSEGV, Fork.Run(ReadByteAt, p + 112).KilledBy); // past the 16-byte-rounded end
        heap.Free(p);
        Assert.Equal(Signal.SIGSEGV, Fork.Run(ReadByteAt, p).KilledBy); // read after free
        Assert.Throws<HeapMisuseException>(() => heap.Free(p));
        heap.Free(q);
        Assert.Empty(heap.Check());
    }

    [Fact]
    public void PageGuardsStillFindAWriteIntoTheSlackAndFreedPagesAreProtNone()
    {
        using var heap = new CheckingHeap(pageGuards: true);
        nint p = heap.Malloc(10), live = heap.Malloc(1);
        heap.Span(p)[..10].Fill(1);
        unsafe { ((byte*)p)[12] = 7; } // inside the 16-byte rounding, before the guard page: no fault

        var problem = Assert.Single(heap.Check());
        Assert.Equal((HeapProblemKind.Overflow, 12L), (problem.Kind, problem.Offset));
        Assert.True(ProcMaps.Find(live)!.Writable);
        heap.Free(p);
        var freed = ProcMaps.Find(p)!;
        Assert.False(freed.Readable || freed.Writable, freed.ToString());
        heap.Free(live);
    }

    [Fact]
    public void StrdupStoresUtf8AndATerminator()
    {
        using var heap = new CheckingHeap();
        nint p = heap.Strdup("héllo, 世界 🎉");
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount("héllo, 世界 🎉") + 1, heap.SizeOf(p));
        Assert.Equal("héllo, 世界 🎉", heap.ReadString(p));
        Assert.Throws<ArgumentException>(() => heap.StrdupBytes([1, 0, 2]));
        heap.Free(p);
    }

    [Fact]
    public void DisposeReleasesEverythingAndKeepsTheReport()
    {
        var heap = new CheckingHeap();
        heap.Malloc(11);
        nint q = heap.Malloc(5);
        heap.Free(q);
        heap.Dispose();
        Assert.Equal((11L, 1), (heap.Report().InUseBytes, heap.Report().InUseBlocks));
        Assert.Throws<ObjectDisposedException>(() => heap.Malloc(1));
        Assert.Throws<ObjectDisposedException>(() => heap.Check());
        heap.Dispose();
    }
}

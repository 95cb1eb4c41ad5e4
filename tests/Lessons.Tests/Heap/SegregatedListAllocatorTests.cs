using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.L03_ProgramBreak;
using static Lessons.Heap.BoundaryTags;

namespace Lessons.Tests.Heap;

/// <summary>Placement and realloc policies of <see cref="SegregatedListAllocator"/> (space only; no timing).</summary>
public class SegregatedListAllocatorTests
{
    static CheckResult Replay(Trace trace)
    {
        using var heap = new SimulatedBreak(64 << 20);
        var a = new SegregatedListAllocator(heap);
        var check = MallocLab.Check(trace, a, heap);
        Assert.True(check.Valid, check.Error);
        Assert.Null(HeapChecker.Check(a));
        return check;
    }

    [Theory]
    [InlineData(64, 448, 0.90)]  // the layout's ceiling is 512 / (80 + 464) = 94%
    [InlineData(16, 112, 0.75)]  // ceiling 128 / (32 + 128) = 80%
    public void SmallAndLargeBlocksAreKeptApartSoFreedLargeOnesMerge(int small, int large, double atLeast)
    {
        var check = Replay(TraceGenerator.Binary(pairs: 400, small: small, large: large));
        Assert.True(check.HeapUtilization >= atLeast, $"heap utilization {check.HeapUtilization:P1} < {atLeast:P0} (side state aside: the layout is tested)");
    }

    [Fact]
    public void ASmallBlockIsTakenFromTheEndOfAFreeBlock()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        nint big = a.Malloc(1000);
        nint pin = a.Malloc(1000);
        a.Free(big);
        nint small = a.Malloc(16);
        Assert.Equal(pin - 32, small); // the last 32 bytes of the freed 1008-byte block
        nint large = a.Malloc(500);
        Assert.Equal(big, large);      // a large block from its start
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void FromALargerClassTheSmallestBlockIsTakenNotTheLastFreed()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        nint smaller = a.Malloc(2100);  // a 2112-byte block
        a.Malloc(16);
        nint larger = a.Malloc(2400);   // 2416 bytes: the same class (2048–2559)
        a.Malloc(16);
        Assert.Equal(SegregatedListAllocator.ClassOf(2112), SegregatedListAllocator.ClassOf(2416));
        a.Free(smaller);
        a.Free(larger);                 // the head of that list now
        nint p = a.Malloc(1500);        // its own class (1280–1535) is empty
        Assert.Equal(smaller, p);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void SmallBlocksShareOneMoveOfTheBreak()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        a.Malloc(1 << 16);
        long before = heap.Size;
        var small = Enumerable.Range(0, 8).Select(_ => a.Malloc(24)).ToArray();
        Assert.True(heap.Size - before <= 4096);
        Assert.Equal(before + 4096, heap.Size); // one chunk (1/16 of the heap, at most 4 KiB) holds all eight
        Assert.Null(HeapChecker.Check(a));
    }

    [Theory]
    [InlineData(32, 0)]
    [InlineData(1024, 62)]
    [InlineData(1040, 63)]    // 1024–1279
    [InlineData(1280, 64)]    // 1280–1535
    [InlineData(2047, 66)]
    [InlineData(2048, 67)]
    [InlineData(1L << 25, 123)]
    [InlineData((1L << 26) - 16, 126)]
    [InlineData(1L << 26, 127)]
    [InlineData(1L << 40, 127)]
    public void ClassesAreExactUpTo1KiBThenFourPerPowerOfTwo(long blockSize, int expected)
    {
        Assert.Equal(expected, SegregatedListAllocator.ClassOf(blockSize));
        Assert.InRange(expected, 0, SegregatedListAllocator.ClassCount - 1);
    }

    // The best utilization any placement can reach with this layout: peak payload ÷ (empty heap + the most bytes of
    // blocks live at once, each BlockSizeFor its request).
    static double LayoutCeiling(Trace trace)
    {
        var sizes = new long[trace.IdCount];
        long payload = 0, peak = 0, blocks = 0, most = 0;
        foreach (var op in trace.Ops)
        {
            int id = op.Id;
            if (sizes[id] > 0) blocks -= SegregatedListAllocator.BlockSizeFor(sizes[id]);
            payload -= sizes[id];
            sizes[id] = op.Kind == TraceOpKind.Free ? 0 : op.Size;
            if (sizes[id] > 0) blocks += SegregatedListAllocator.BlockSizeFor(sizes[id]);
            payload += sizes[id];
            peak = Math.Max(peak, payload);
            most = Math.Max(most, blocks);
        }
        return (double)peak / (EmptyHeapSize + most);
    }

    [Fact]
    public void TinyBlocksReachTheLayoutsCeiling()
    {
        var trace = TraceGenerator.Tiny(seed: 7);
        double ceiling = LayoutCeiling(trace);
        Assert.InRange(ceiling, 0.17, 0.18); // 1–16 bytes in 32-byte blocks (8-byte header, 16-byte alignment, 32-byte minimum)
        Assert.Equal(ceiling, Replay(trace).HeapUtilization!.Value, 3); // the layout alone, side state aside
    }

    [Fact]
    public void OnlySmallBlocksAtTheTopMoveTheBreakByJustWhatIsMissing()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        for (int i = 0; i < 300; i++) a.Malloc(1 + i % 24); // only small blocks: no chunk is ever needed
        Assert.Equal(EmptyHeapSize + 300 * 32, heap.Size);
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void ReallocAtTheTopMovesIntoAFreeBlockThatFitsRatherThanGrowTheHeap()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        nint hole = a.Malloc(4000);
        nint pin = a.Malloc(1000);
        nint top = a.Malloc(1000);
        a.Free(hole);
        long before = heap.Size;
        nint moved = a.Realloc(top, 3000);
        Assert.Equal(hole, moved);
        Assert.Equal(before, heap.Size);
        Assert.Null(HeapChecker.Check(a));
        Assert.True(a.IsLive(pin));
    }

    [Fact]
    public void ReallocAtTheTopSlidesIntoTheFreeBlockBeforeItAndMovesTheBreakOnlyByWhatIsMissing()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap);
        a.Malloc(1000);
        nint before = a.Malloc(2000);
        nint top = a.Malloc(1000);
        Marshal.WriteInt64(top, 0x1122334455667788);
        a.Free(before);                         // 2016 bytes free before the 1008-byte block at the top
        long size = heap.Size;
        nint grown = a.Realloc(top, 5000);      // needs 5008 bytes: 1984 more than the two blocks hold
        Assert.Equal(before, grown);
        Assert.Equal(size + 5008 - 2016 - 1008, heap.Size);
        Assert.Equal(0x1122334455667788, Marshal.ReadInt64(grown));
        Assert.Null(HeapChecker.Check(a));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReallocAtTheTopGrowsInPlaceAndMovesTheBreakOnlyByWhatIsMissing(bool slabs)
    {
        using var heap = new SimulatedBreak(1 << 22);
        var a = new SegregatedListAllocator(heap, slabs);
        nint hole = a.Malloc(200);
        nint top = a.Malloc(20000);
        Marshal.WriteInt64(top + 19992, 0x1122334455667788);
        a.Free(hole);                        // a free block before it, much smaller than the block: not worth a copy
        for (long size = 20128; size <= 40000; size += 128)
        {
            long before = heap.Size, blockBefore = SegregatedListAllocator.BlockSizeFor(size - 128);
            Assert.Equal(top, a.Realloc(top, size));
            Assert.Equal(before + SegregatedListAllocator.BlockSizeFor(size) - blockBefore, heap.Size);
        }
        Assert.Equal(0x1122334455667788, Marshal.ReadInt64(top + 19992));
        Assert.Null(HeapChecker.Check(a));
    }

    [Fact]
    public void ReallocGrowsIntoTheFreeNextBlockWithoutMovingOrGrowingTheHeap()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = new SegregatedListAllocator(heap, slabs: true);
        nint p = a.Malloc(1000);
        nint next = a.Malloc(3000);
        a.Malloc(500);                        // keeps the block from ending the heap
        a.Free(next);
        long before = heap.Size;
        Assert.Equal(p, a.Realloc(p, 2500));
        Assert.Equal(p, a.Realloc(p, 4000));  // the whole of the free block (and no more) is taken
        Assert.Equal(before, heap.Size);
        Assert.NotEqual(p, a.Realloc(p, 4100));
        Assert.Null(HeapChecker.Check(a));
    }

    // A buffer reallocated larger step by step, with a small block allocated and the previous one freed between steps
    // (the pattern of the lab's realloc traces, with other sizes).
    static Trace GrowingBuffer(int start, int step, int small, int steps)
    {
        var ops = new List<TraceOp> { TraceOp.Alloc(0, start), TraceOp.Alloc(1, small) };
        for (int k = 1; k <= steps; k++)
        {
            ops.Add(TraceOp.Realloc(0, start + k * step));
            ops.Add(TraceOp.Alloc(k + 1, small));
            ops.Add(TraceOp.Free(k));
        }
        ops.Add(TraceOp.Free(0));
        ops.Add(TraceOp.Free(steps + 1));
        return Trace.Create($"growing-{start}-{step}-{small}", ops);
    }

    [Theory]
    [InlineData(false, 300, 100, 40, 0.95)]
    [InlineData(true, 300, 100, 40, 0.95)]
    [InlineData(true, 1000, 24, 100, 0.95)]
    [InlineData(true, 2000, 7, 8, 0.85)] // the small block pins the buffer once, which moves to the top: its first place stays a hole
    public void ABufferThatKeepsGrowingBetweenSmallBlocksWastesLittle(bool slabs, int start, int step, int small, double atLeast)
    {
        var trace = GrowingBuffer(start, step, small, steps: 2000);
        using var heap = new SimulatedBreak(64 << 20);
        var a = new SegregatedListAllocator(heap, slabs, slabs ? SegregatedListAllocator.SlabAfter : 0);
        var check = MallocLab.Check(trace, a, heap);
        Assert.True(check.Valid, check.Error);
        Assert.True(check.HeapUtilization >= atLeast, $"heap utilization {check.HeapUtilization:P1} < {atLeast:P0} (side state aside: the layout is tested)");
        Assert.Null(HeapChecker.Check(a));
    }
}

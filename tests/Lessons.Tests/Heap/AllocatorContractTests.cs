using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.L03_ProgramBreak;
using Lessons.Plotting;
using Lessons.Posix;

namespace Lessons.Tests.Heap;

/// <summary>The <see cref="IAllocator"/> contract, for every reference allocator.</summary>
public class AllocatorContractTests
{
    public static TheoryData<string> Names() => new(Allocators.Names);

    static unsafe Span<byte> Bytes(nint p, long n) => new((void*)p, (int)n);

    static void AssertHealthy(IAllocator a)
    {
        if (a is IHeapView v) Assert.Null(HeapChecker.Check(v));
    }

    [Theory, MemberData(nameof(Names))]
    public void PointersAreAlignedInsideTheHeapAndDoNotOverlap(string name)
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = Allocators.Create(name, heap);
        var rng = new Random(5);
        var blocks = new List<(nint P, int Size, byte Fill)>();
        for (int i = 0; i < 200; i++)
        {
            int size = rng.Next(1, 600);
            nint p = a.Malloc(size);
            Assert.NotEqual(0, p);
            Assert.Equal(0, p % 16);
            Assert.True(p >= heap.HeapLo && (long)p + size <= (long)heap.Break, $"0x{p:x}+{size} outside the heap");
            byte fill = (byte)(i % 250 + 1);
            Bytes(p, size).Fill(fill);
            blocks.Add((p, size, fill));
            if (i % 3 == 2) // free one in three, so later blocks reuse holes
            {
                var (q, qs, qf) = blocks[rng.Next(blocks.Count)];
                Assert.Equal(-1, Bytes(q, qs).IndexOfAnyExcept(qf));
                a.Free(q);
                blocks.Remove((q, qs, qf));
            }
            AssertHealthy(a);
        }
        foreach (var (p, size, fill) in blocks)
            Assert.Equal(-1, Bytes(p, size).IndexOfAnyExcept(fill));
    }

    [Theory, MemberData(nameof(Names))]
    public void MallocZeroIsNullAndNegativeThrows(string name)
    {
        using var heap = new SimulatedBreak(1 << 16);
        var a = Allocators.Create(name, heap);
        Assert.Equal(0, a.Malloc(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Malloc(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Calloc(-1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Realloc(0, -4));
        Assert.False(string.IsNullOrWhiteSpace(a.Name));
    }

    [Theory, MemberData(nameof(Names))]
    public void OutOfMemoryReturnsNullAndTheHeapStillWorks(string name)
    {
        using var heap = new SimulatedBreak(64 * 1024);
        var a = Allocators.Create(name, heap);
        nint p = a.Malloc(100);
        Bytes(p, 100).Fill(7);
        long brk = heap.Size;
        Assert.Equal(0, a.Malloc(1L << 20));
        Assert.Equal(0, a.Malloc(long.MaxValue));
        Assert.Equal(brk, heap.Size);
        var filled = new List<nint>();
        for (nint q; (q = a.Malloc(1000)) != 0;) filled.Add(q);
        Assert.NotEmpty(filled);
        AssertHealthy(a);
        foreach (nint q in filled) a.Free(q);
        Assert.Equal(-1, Bytes(p, 100).IndexOfAnyExcept((byte)7));
        if (name != "naive") Assert.NotEqual(0, a.Malloc(1000)); // the others reuse the space
        AssertHealthy(a);
    }

    [Theory, MemberData(nameof(Names))]
    public void CallocZeroesAndRefusesOverflow(string name)
    {
        using var heap = new SimulatedBreak(1 << 16);
        var a = Allocators.Create(name, heap);
        nint dirty = a.Malloc(400);
        Bytes(dirty, 400).Fill(0xAB);
        a.Free(dirty);
        nint p = a.Calloc(100, 4);
        Assert.NotEqual(0, p);
        Assert.Equal(-1, Bytes(p, 400).IndexOfAnyExcept((byte)0));
        Assert.Equal(0, a.Calloc(long.MaxValue / 2, 3));
        Assert.Equal(0, a.Calloc(1L << 32, 1L << 32));
        Assert.Equal(0, a.Calloc(0, 8));
        AssertHealthy(a);
    }

    [Theory, MemberData(nameof(Names))]
    public void ReallocKeepsContentsAndFollowsC(string name)
    {
        using var heap = new SimulatedBreak(1 << 16);
        var a = Allocators.Create(name, heap);
        nint p = a.Realloc(0, 40); // realloc(NULL, n) is malloc
        Assert.NotEqual(0, p);
        for (int i = 0; i < 40; i++) Marshal.WriteByte(p, i, (byte)i);
        nint other = a.Malloc(24); // something after p, so growing may have to move
        foreach (long size in new long[] { 100, 1000, 3000, 20, 500 })
        {
            long keep = Math.Min(size, 20);
            p = a.Realloc(p, size);
            Assert.NotEqual(0, p);
            Assert.Equal(0, p % 16);
            for (int i = 0; i < keep; i++) Assert.Equal((byte)i, Marshal.ReadByte(p, i));
            AssertHealthy(a);
        }
        long brk = heap.Size;
        Assert.Equal(0, a.Realloc(p, 1L << 30)); // failure: 0, p untouched and still live
        Assert.Equal(brk, heap.Size);
        for (int i = 0; i < 20; i++) Assert.Equal((byte)i, Marshal.ReadByte(p, i));
        Assert.Equal(0, a.Realloc(p, 0)); // realloc(p, 0) frees p
        Assert.Throws<HeapMisuseException>(() => a.Free(p));
        Assert.Throws<HeapMisuseException>(() => a.Realloc(p, 10));
        a.Free(other);
        AssertHealthy(a);
    }

    [Theory, MemberData(nameof(Names))]
    public void BadFreesThrowAndChangeNothing(string name)
    {
        using var heap = new SimulatedBreak(1 << 16);
        var a = Allocators.Create(name, heap);
        a.Free(0);
        nint p = a.Malloc(64), q = a.Malloc(64);
        a.Free(p);
        var view = (IHeapView)a;
        var before = view.Blocks();
        long brk = heap.Size;
        Assert.Contains("double free", Assert.Throws<HeapMisuseException>(() => a.Free(p)).Message);
        Assert.Throws<HeapMisuseException>(() => a.Free(q + 16));
        Assert.Throws<HeapMisuseException>(() => a.Free(q + 1));
        Assert.Throws<HeapMisuseException>(() => a.Free(heap.HeapLo - 4096));
        Assert.Throws<HeapMisuseException>(() => a.Free(heap.HeapLo + (nint)heap.MaxSize));
        Assert.Throws<HeapMisuseException>(() => a.Free(heap.HeapLo));
        Assert.Equal(before, view.Blocks());
        Assert.Equal(brk, heap.Size);
        AssertHealthy(a);
        a.Free(q);
        AssertHealthy(a);
    }

    [Theory, MemberData(nameof(Names))]
    public void AHeaderForgedInsideAPayloadDoesNotMakeAFreeValid(string name)
    {
        using var heap = new SimulatedBreak(1 << 20);
        var a = Allocators.Create(name, heap);
        nint small = a.Malloc(16), big = a.Malloc(3000);
        var before = ((IHeapView)a).Blocks();
        // the owner of big writes what looks like an allocated block's header (size 64, and the size of a slab) at
        // every 16-byte step of its payload, then frees each pointer after such a word
        for (int at = 16; at + 16 <= 3000; at += 16)
        {
            Marshal.WriteInt64(big + at - 8, 64 | BoundaryTags.AllocatedBit | BoundaryTags.PrevAllocatedBit);
            Marshal.WriteInt64(big + at - 16, (long)SegregatedListAllocator.SlabSize | BoundaryTags.AllocatedBit | SegregatedListAllocator.SlabBit);
        }
        for (int at = 16; at + 16 <= 3000; at += 16)
        {
            Assert.Throws<HeapMisuseException>(() => a.Free(big + at));
            Assert.Throws<HeapMisuseException>(() => a.Realloc(big + at, 8));
        }
        Assert.Equal(before, ((IHeapView)a).Blocks());
        AssertHealthy(a);
        a.Free(big);
        a.Free(small);
        AssertHealthy(a);
    }

    [Theory, MemberData(nameof(Names))]
    public void BlocksTileTheHeapInAddressOrder(string name)
    {
        using var heap = new SimulatedBreak(1 << 16);
        var a = Allocators.Create(name, heap);
        nint p = a.Malloc(100), q = a.Malloc(200), r = a.Malloc(130);
        a.Free(q);
        var blocks = ((IHeapView)a).Blocks();
        Assert.Equal(blocks.OrderBy(b => b.Offset), blocks);
        Assert.Contains(blocks, b => !b.Allocated);
        Assert.Equal(2, blocks.Count(b => b.Allocated));
        Assert.All(blocks.Where(b => b.Allocated), b => Assert.True(p - heap.HeapLo - b.Offset is >= 0 and <= 16 || r - heap.HeapLo - b.Offset is >= 0 and <= 16));
        a.Free(p); a.Free(r);
    }

    [Theory, MemberData(nameof(Names))]
    public void FuzzTwoThousandOperationsWithTheCheckerAfterEach(string name)
    {
        var result = HeapFuzzer.Run(name, 2000, seed: 42, arenaBytes: 2 << 20);
        Assert.True(result.Violations == 0, result.ToString());
        Assert.True(result.MisuseRefused > 0 && result.Frees > 100 && result.Reallocs > 100, result.ToString());
    }

    [Fact]
    public void AnUnknownNameIsRefused()
    {
        using var heap = new SimulatedBreak(4096);
        Assert.Contains("segregated", Assert.Throws<ArgumentException>(() => Allocators.Create("nope", heap)).Message);
    }
}

public class HeapPictureTests
{
    [Fact]
    public void StripsDrawAllocatedAndFreeBlocksOfAnyAllocator()
    {
        using var heap = new SimulatedBreak(1 << 16);
        var a = new ImplicitListAllocator(heap);
        var shots = new List<HeapSnapshot> { HeapSnapshot.Of(a, "empty") };
        nint p = a.Malloc(40);
        a.Malloc(40);
        a.Free(p);
        shots.Add(HeapSnapshot.Of(a, "free first"));
        var data = Lessons.Tests.Plotting.ChartsTests.Json(HeapPicture.Strips(shots))["data"]!.AsArray();
        Assert.Equal(2, data.Count);
        Assert.Equal([88L], data[0]!["base"]!.AsArray().Select(v => (long)v!)); // the live second block: 24 bytes of pad and prologue, then the first block (64 bytes)
        Assert.Equal([24L], data[1]!["base"]!.AsArray().Select(v => (long)v!));
        Assert.Contains("[24+64 free]", shots[1].ToString());
    }
}

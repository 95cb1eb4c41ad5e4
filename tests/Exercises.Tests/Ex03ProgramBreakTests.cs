using System.Runtime.InteropServices;
using Exercises;
using Grading;
using Lessons.Heap;
using Lessons.Posix;

namespace Exercises.Tests;

public class Ex03ProgramBreakTests
{
    static BumpAllocator Make(long max = 64 * 1024) => new(new SimulatedBreak(max));

    static void Fill(nint p, int n, byte seed)
    {
        for (int i = 0; i < n; i++) Marshal.WriteByte(p + i, (byte)(seed + i));
    }

    static void AssertFilled(nint p, int n, byte seed)
    {
        for (int i = 0; i < n; i++)
            Assert.True(Marshal.ReadByte(p + i) == (byte)(seed + i), $"byte {i} of the block changed");
    }

    [Theory, Graded(lesson: 3, points: 3)]
    [InlineData(1, 32)]
    [InlineData(15, 32)]
    [InlineData(16, 32)]
    [InlineData(17, 48)]
    [InlineData(100, 128)]
    public void MallocGrowsTheBreakByHeaderPlusTheRoundedSizeAndAligns(long size, long growth)
    {
        var a = Make();
        using var heap = a.Heap;
        nint first = a.Malloc(8);
        long before = heap.Size;

        nint p = a.Malloc(size);

        Assert.Equal(0, p % 16);
        Assert.Equal(first + 32, p); // right after the first block and its own header
        Assert.Equal(before + growth, heap.Size);
        Assert.Equal(growth - BumpAllocator.HeaderSize, Marshal.ReadInt64(p - BumpAllocator.HeaderSize));
    }

    [Fact, Graded(lesson: 3, points: 1)]
    public void MallocOfZeroReturnsNullAndChangesNothing()
    {
        var a = Make();
        using var heap = a.Heap;
        Assert.Equal(0, a.Malloc(0));
        Assert.Equal(0, heap.Size);
    }

    [Fact, Graded(lesson: 3, points: 2)]
    public void BlockCapacityReadsTheHeaderAndRefusesOtherPointers()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Malloc(40), q = a.Malloc(1);

        Assert.Equal(48, a.BlockCapacity(p));
        Assert.Equal(16, a.BlockCapacity(q));
        Assert.Throws<HeapMisuseException>(() => a.BlockCapacity(p + 16));
        Assert.Throws<HeapMisuseException>(() => a.BlockCapacity(heap.Break));
    }

    [Fact, Graded(lesson: 3, points: 2)]
    public void FreeingTheTopBlockLowersTheBreakAndFreeingBelowDoesNothing()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Malloc(100), q = a.Malloc(50);
        long size = heap.Size;

        a.Free(p); // below the top: nothing
        Assert.Equal(size, heap.Size);
        a.Free(q); // the top: the break goes down to q's header
        Assert.Equal(q - BumpAllocator.HeaderSize, heap.Break);
        a.Free(0);
        Assert.Equal(q - BumpAllocator.HeaderSize, heap.Break);
    }

    [Fact, Graded(lesson: 3, points: 2)]
    public void FreeOfAPointerThatIsNoBlockIsAClearErrorAndChangesNothing()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Malloc(64);
        long size = heap.Size;

        var e = Assert.Throws<HeapMisuseException>(() => a.Free(p + 8));
        Assert.Contains($"{p + 8:x}", e.Message);
        Assert.Throws<HeapMisuseException>(() => a.Free(heap.HeapLo - 4096));
        Assert.Equal(size, heap.Size);
    }

    [Fact, Graded(lesson: 3, points: 2)]
    public void ReallocOfTheTopBlockGrowsInPlaceAndKeepsTheBytes()
    {
        var a = Make();
        using var heap = a.Heap;
        a.Malloc(10);
        nint p = a.Malloc(20);
        Fill(p, 20, 7);

        nint q = a.Realloc(p, 1000);

        Assert.Equal(p, q);
        Assert.Equal(p + 1008, heap.Break);
        AssertFilled(q, 20, 7);
    }

    [Fact, Graded(lesson: 3, points: 2)]
    public void ReallocBelowTheTopMovesTheBlockAndKeepsTheBytes()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Malloc(20);
        nint top = a.Malloc(5);
        Fill(p, 20, 99);

        nint q = a.Realloc(p, 200);

        Assert.True(q > top, "the moved block must be new, at the top");
        Assert.Equal(0, q % 16);
        Assert.Equal(q + 208, heap.Break);
        AssertFilled(q, 20, 99);
    }

    [Fact, Graded(lesson: 3, points: 2)]
    public void ReallocFollowsCForNullAndZero()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Realloc(0, 24); // malloc
        Assert.Equal(heap.HeapLo + 16, p);
        Assert.Equal(48, heap.Size);

        Assert.Equal(0, a.Realloc(p, 0)); // free: p was the top block
        Assert.Equal(0, heap.Size);
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 3, points: 2, Hidden = true)]
    public void EnomemAtTheMaximumLeavesEverythingAsItWas()
    {
        var a = Make(4096);
        using var heap = a.Heap;
        nint p = a.Malloc(1000);
        nint top = a.Malloc(1000);
        Fill(p, 1000, 3);
        long size = heap.Size;

        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => a.Malloc(3000)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => a.Realloc(top, 3100)).Errno); // in place
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => a.Realloc(p, 2500)).Errno);   // moving
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => a.Malloc(long.MaxValue)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => a.Realloc(top, long.MaxValue)).Errno);

        Assert.Equal(size, heap.Size);
        Assert.Equal(1008, a.BlockCapacity(top));
        AssertFilled(p, 1000, 3);
        nint last = a.Malloc(heap.MaxSize - heap.Size - BumpAllocator.HeaderSize); // what is left still fits exactly
        Assert.Equal(heap.MaxSize, heap.Size);
        a.Free(last);
    }

    [Fact, Graded(lesson: 3, points: 1, Hidden = true)]
    public void NegativeSizesAreRefusedAndChangeNothing()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Malloc(16);

        Assert.Throws<ArgumentOutOfRangeException>(() => a.Malloc(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Realloc(p, -16));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Realloc(0, long.MinValue));
        Assert.Equal(32, heap.Size);
        Assert.Equal(16, a.BlockCapacity(p));
    }

    [Fact, Graded(lesson: 3, points: 2, Hidden = true)]
    public void ADoubleFreeOfTheTopIsAnErrorAndDoesNotLowerTheBreakAgain()
    {
        var a = Make();
        using var heap = a.Heap;
        a.Malloc(32);
        nint p = a.Malloc(32);
        a.Free(p);
        long size = heap.Size;

        Assert.Throws<HeapMisuseException>(() => a.Free(p));
        Assert.Throws<HeapMisuseException>(() => a.Realloc(p, 8));
        Assert.Equal(size, heap.Size);
    }

    [Fact, Graded(lesson: 3, points: 2, Hidden = true)]
    public void ReallocShrinksTheTopInPlaceAndAMovedBlockKeepsOnlyWhatFits()
    {
        var a = Make();
        using var heap = a.Heap;
        nint p = a.Malloc(64);
        nint top = a.Malloc(256);
        Fill(top, 256, 11);
        Fill(p, 64, 50);

        Assert.Equal(top, a.Realloc(top, 40));
        Assert.Equal(top + 48, heap.Break);
        AssertFilled(top, 40, 11);

        nint q = a.Realloc(p, 20); // below the top: moves even to shrink, copying 20 bytes
        Assert.NotEqual(p, q);
        AssertFilled(q, 20, 50);
        Assert.Equal(q + 32, heap.Break);
    }

    [Fact, Graded(lesson: 3, points: 1, Hidden = true)]
    public void FreeingInReverseOrderEmptiesTheHeap()
    {
        var a = Make();
        using var heap = a.Heap;
        var blocks = Enumerable.Range(1, 20).Select(i => a.Malloc(i * 7)).ToList();
        Assert.All(blocks, b => Assert.Equal(0, b % 16));
        for (int i = blocks.Count - 1; i >= 0; i--) a.Free(blocks[i]);
        Assert.Equal(0, heap.Size);
    }
    // END HIDDEN TESTS
}

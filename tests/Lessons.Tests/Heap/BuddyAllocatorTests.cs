using System.Runtime.InteropServices;
using Lessons.Heap;
using Lessons.Posix;

namespace Lessons.Tests.Heap;

public class BuddyAllocatorTests
{
    static (SimulatedBreak, BuddyAllocator) Make(long max = 64 * 1024)
    {
        var brk = new SimulatedBreak(max);
        return (brk, new BuddyAllocator(brk));
    }

    static string Show(BuddyAllocator a) =>
        string.Join(" ", a.Blocks().Select(b => $"{b.Offset}:{b.Size}{(b.Allocated ? "a" : "f")}"));

    // Blocks tile [0, break) exactly, each aligned to its power-of-two size; fully coalesced; the top block is live.
    static void CheckInvariants(BuddyAllocator a)
    {
        var blocks = a.Blocks();
        long at = 0;
        foreach (var b in blocks)
        {
            Assert.Equal(at, b.Offset);
            Assert.True(b.Size >= BuddyAllocator.MinBlockSize && (b.Size & (b.Size - 1)) == 0, Show(a));
            Assert.Equal(0, b.Offset % b.Size);
            at += b.Size;
        }
        Assert.Equal(a.Heap.Size, at);
        if (blocks.Count > 0) Assert.True(blocks[^1].Allocated, "the top block is free: " + Show(a));
        var byOffset = blocks.ToDictionary(b => b.Offset);
        foreach (var b in blocks.Where(b => !b.Allocated))
            if (byOffset.TryGetValue(b.Offset ^ b.Size, out var buddy) && buddy.Size == b.Size)
                Assert.True(buddy.Allocated, "two free buddies were not merged: " + Show(a));
    }

    [Theory]
    [InlineData(1, 32)]
    [InlineData(16, 32)]
    [InlineData(17, 64)]
    [InlineData(48, 64)]
    [InlineData(49, 128)]
    [InlineData(1000, 1024)]
    [InlineData(1009, 2048)]
    [InlineData(0, 0)]
    public void BlockSizeIsHeaderPlusRequestRoundedToAPowerOfTwo(long request, long block) =>
        Assert.Equal(block, BuddyAllocator.BlockSizeFor(request));

    [Fact]
    public void MallocZeroIsNullAndFreeNullIsANoOp()
    {
        var (brk, a) = Make();
        using var _ = brk;
        Assert.Equal(0, a.Malloc(0));
        a.Free(0);
        Assert.Equal(0, brk.Size);
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Malloc(-1));
    }

    [Fact]
    public void TheBreakGrowsOnlyAsNeeded()
    {
        var (brk, a) = Make();
        using var _ = brk;
        nint p = a.Malloc(10);
        Assert.Equal(32, brk.Size);
        Assert.Equal(brk.HeapLo + BuddyAllocator.HeaderSize, p);
        a.Malloc(100); // 128-byte block, aligned at 128: the gap 32..128 becomes free blocks 32 and 64
        Assert.Equal(256, brk.Size);
        Assert.Equal("0:32a 32:32f 64:64f 128:128a", Show(a));
        CheckInvariants(a);
    }

    [Fact]
    public void SplitAndCoalesceAreVisibleInBlocks()
    {
        var (brk, a) = Make();
        using var _ = brk;
        nint big = a.Malloc(1000);           // 0:1024
        nint top = a.Malloc(1000);           // 1024:1024, keeps the break up
        a.Free(big);
        Assert.Equal("0:1024f 1024:1024a", Show(a));
        nint small = a.Malloc(10);           // splits 1024 into 32+32+64+...+512
        Assert.Equal("0:32a 32:32f 64:64f 128:128f 256:256f 512:512f 1024:1024a", Show(a));
        nint small2 = a.Malloc(10);          // takes the free buddy
        Assert.Equal(brk.HeapLo + 32 + 16, small2);
        a.Free(small);
        a.Free(small2);                      // merges all the way back up
        Assert.Equal("0:1024f 1024:1024a", Show(a));
        CheckInvariants(a);
        a.Free(top);
        Assert.Empty(a.Blocks());
        Assert.Equal(0, brk.Size);
    }

    [Fact]
    public void PointersAre16ByteAlignedAndUsable()
    {
        var (brk, a) = Make();
        using var _ = brk;
        var ptrs = new List<(nint p, int n)>();
        foreach (int n in new[] { 1, 7, 16, 17, 33, 100, 255, 4000 })
        {
            nint p = a.Malloc(n);
            Assert.Equal(0, p % 16);
            Assert.True(a.BlockSizeOf(p) >= n + BuddyAllocator.HeaderSize);
            unsafe { new Span<byte>((void*)p, n).Fill((byte)n); }
            ptrs.Add((p, n));
        }
        foreach (var (p, n) in ptrs)
            unsafe { Assert.All(new Span<byte>((void*)p, n).ToArray(), b => Assert.Equal((byte)n, b)); }
        // the header holds the block size with the allocated bit
        Assert.Equal(a.BlockSizeOf(ptrs[0].p) | 1, Marshal.ReadInt64(ptrs[0].p - BuddyAllocator.HeaderSize));
    }

    [Fact]
    public void DoubleFreeAndForeignPointersThrowAndLeaveTheHeapIntact()
    {
        var (brk, a) = Make();
        using var _ = brk;
        nint p = a.Malloc(40);
        nint q = a.Malloc(40);
        a.Free(p);
        string before = Show(a);
        long size = brk.Size;
        var e = Assert.Throws<HeapMisuseException>(() => a.Free(p));
        Assert.Contains("double free", e.Message);
        Assert.IsAssignableFrom<InvalidOperationException>(e);
        Assert.Contains("not a pointer returned by malloc", Assert.Throws<HeapMisuseException>(() => a.Free(q + 8)).Message);
        Assert.Throws<HeapMisuseException>(() => a.Free(brk.HeapLo - 4096));
        Assert.Throws<HeapMisuseException>(() => a.Free(brk.HeapLo + (nint)brk.MaxSize));
        nint foreign = Marshal.AllocHGlobal(64);
        try { Assert.Throws<HeapMisuseException>(() => a.Free(foreign)); }
        finally { Marshal.FreeHGlobal(foreign); }
        Assert.Equal(before, Show(a));
        Assert.Equal(size, brk.Size);
        a.Free(q);
        Assert.Equal(0, brk.Size);
    }

    [Fact]
    public void TheBreakShrinksBackWhenTheTopIsFree()
    {
        var (brk, a) = Make();
        using var _ = brk;
        nint a1 = a.Malloc(100), a2 = a.Malloc(100), a3 = a.Malloc(2000);
        Assert.Equal(4096, brk.Size);
        a.Free(a3);                         // top freed: the break drops to the end of a2
        Assert.Equal(256, brk.Size);
        a.Free(a1);                         // not the top: the break stays
        Assert.Equal(256, brk.Size);
        a.Free(a2);
        Assert.Equal(0, brk.Size);
        Assert.Equal(brk.HeapLo, brk.Break);
    }

    [Fact]
    public void TooLargeOrFullReturnsNullAndChangesNothing()
    {
        var (brk, a) = Make(4096);
        using var _ = brk;
        Assert.Equal(0, a.Malloc(4096));
        Assert.Equal(0, brk.Size);
        nint p = a.Malloc(a.MaxRequest);
        Assert.Equal(4096, brk.Size);
        string before = Show(a);
        Assert.Equal(0, a.Malloc(1));
        Assert.Equal(before, Show(a));
        a.Free(p);
        Assert.Equal(0, brk.Size);
    }

    [Fact]
    public void InternalFragmentationCountsRoundingOverLiveBlocks()
    {
        var (brk, a) = Make();
        using var _ = brk;
        nint p = a.Malloc(17);   // 64-byte block: 47 wasted
        nint q = a.Malloc(100);  // 128: 28 wasted
        Assert.Equal(47 + 28, a.InternalFragmentation);
        Assert.Equal(117, a.Requested);
        a.Free(p);
        Assert.Equal(28, a.InternalFragmentation);
        a.Free(q);
        Assert.Equal(0, a.InternalFragmentation);
    }

    [Fact]
    public void AnArenaThatIsNotAPowerOfTwoIsUsedToItsEnd()
    {
        var (brk, a) = Make(3 * 4096);
        using var _ = brk;
        Assert.Equal(8192, a.MaxBlockSize);
        nint[] p = [a.Malloc(4000), a.Malloc(4000), a.Malloc(4000)];
        Assert.Equal(brk.MaxSize, brk.Size);
        Assert.Equal(0, a.Malloc(1));
        a.Free(p[0]);
        a.Free(p[1]);
        Assert.Equal("0:8192f 8192:4096a", Show(a));
        Assert.NotEqual(0, a.Malloc(a.MaxRequest));
        CheckInvariants(a);
    }

    [Fact]
    public void ANonEmptyHeapIsRejected()
    {
        using var brk = new SimulatedBreak(4096);
        brk.Sbrk(8);
        Assert.Throws<ArgumentException>(() => new BuddyAllocator(brk));
    }

    [Fact]
    public void RandomOperationsKeepTheHeapTiledAndBlocksDisjoint()
    {
        var (brk, a) = Make(1 << 20);
        using var _ = brk;
        var rng = new Random(20261122);
        var live = new List<(nint p, long n, byte tag)>();
        for (int op = 0; op < 2000; op++)
        {
            if (live.Count > 0 && rng.Next(100) < 45)
            {
                int i = rng.Next(live.Count);
                var (p, n, tag) = live[i];
                unsafe { Assert.True(new Span<byte>((void*)p, (int)n).IndexOfAnyExcept(tag) < 0, $"op {op}: block at {p} was overwritten"); }
                a.Free(p);
                live.RemoveAt(i);
            }
            else
            {
                long n = rng.Next(100) < 80 ? rng.Next(1, 200) : rng.Next(200, 20000);
                nint p;
                try { p = a.Malloc(n); }
                catch (PosixException e) when (e.Errno == Errno.ENOMEM) { continue; }
                Assert.Equal(0, p % 16);
                byte tag = (byte)rng.Next(1, 256);
                unsafe { new Span<byte>((void*)p, (int)n).Fill(tag); }
                live.Add((p, n, tag));
            }
            CheckInvariants(a);
            Assert.Equal(live.Sum(l => l.n), a.Requested);
            var allocated = a.Blocks().Where(b => b.Allocated).Select(b => b.Offset + BuddyAllocator.HeaderSize).ToHashSet();
            Assert.Equal(live.Count, allocated.Count);
            Assert.All(live, l => Assert.Contains((long)(l.p - brk.HeapLo), allocated));
        }
        foreach (var (p, _, _) in live) a.Free(p);
        Assert.Equal(0, brk.Size);
        Assert.Empty(a.Blocks());
    }

    [Fact]
    public void Realloc_grows_in_place_into_free_upper_buddies_and_at_the_top()
    {
        var (brk, a) = Make();
        using var _ = brk;
        nint p = a.Malloc(100);                  // 128 at 0
        nint q = a.Malloc(100);                  // 128 at 128
        a.Free(q);                               // the top: the break drops to 128
        Assert.Equal(128, brk.Size);
        Assert.Equal(p, a.Realloc(p, 1000));     // at the top: the break moves to 1024, no copy
        Assert.Equal(1024, brk.Size);
        Assert.Equal(1024, a.BlockSizeOf(p));
        nint r = a.Malloc(1000);                 // 1024 at 1024
        Assert.Equal(p, a.Realloc(p, 10));       // a shrink keeps its block
        Assert.Equal(1024, a.BlockSizeOf(p));
        Assert.NotEqual(r, a.Realloc(r, 3000));  // the upper buddy of 1024..2047 is above the break: moves to 2048
        CheckInvariants(a);
        Assert.Equal(10 + 3000, a.Requested);
    }

    [Fact]
    public void Lesson_05s_buddy_keeps_its_break_and_still_merges()
    {
        using var brk = new SimulatedBreak(64 * 1024);
        var a = BuddyAllocator.KeepingItsBreak(brk);
        nint p = a.Malloc(100), q = a.Malloc(100);
        a.Free(q);
        a.Free(p);
        Assert.Equal(256, brk.Size);             // memlib has no negative sbrk
        Assert.Equal("0:256f", Show(a));          // the two 128s merged
        Assert.Equal(p, a.Malloc(200));           // and are reused whole
    }
}

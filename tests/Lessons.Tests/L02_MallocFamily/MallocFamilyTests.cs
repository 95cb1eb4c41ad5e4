using Lessons.Heap;
using Lessons.L02_MallocFamily;
using Lessons.Posix;

namespace Lessons.Tests.L02_MallocFamily;

public class MallocFamilyTests
{
    [Fact]
    public void CallocHandsBackZerosEvenInAReusedBlock()
    {
        var reused = MallocFamily.CallocReusesDirtyBlock(2000);
        Assert.True(reused.SameAddress, reused.ToString());
        Assert.Equal(0, reused.NonZeroBytes);
        var small = MallocFamily.CallocZeroes(256);
        Assert.Equal(0, small.NonZeroBytes);
        Assert.False(small.SameAddress, $"glibc's calloc skips the tcache: {small}");
    }

    [Fact]
    public void CallocDemoNamesItsTriesOnlyWhenItTookMoreThanOne()
    {
        var once = new CallocDemo(256, 0x1000, 0x2000, 0);
        Assert.EndsWith("same address: no); non-zero bytes: 0", once.ToString());
        Assert.EndsWith("non-zero bytes: 0; tries: 3", (once with { Attempts = 3 }).ToString());
    }

    [Fact]
    public void GarbageDemoReportsWhatItSaw()
    {
        // glibc's tcache hands the block just freed back to the same thread, unless the runtime on this thread (a GC
        // between the calls) took it first: a few tries. Free wrote only its two link words (next, key: the first
        // 16 bytes) into the block: the other 48 bytes still hold the pattern.
        var g = MallocFamily.ReusedGarbage(64);
        for (int attempt = 1; attempt < 5 && !g.SameAddress; attempt++)
            g = MallocFamily.ReusedGarbage(64);
        Assert.True(g.SameAddress, g.ToString());
        Assert.InRange(g.PatternBytesLeft, 48, 63);
        Assert.EndsWith("abababababababab", g.FirstBytes); // bytes 16..23 untouched
        Assert.Contains("same address: yes", g.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => MallocFamily.ReusedGarbage(0));
    }

    [Fact]
    public void ReallocKeepsContentsAndMovesWhenBoxedIn()
    {
        var demos = MallocFamily.ReallocGrowth();
        Assert.All(demos, d => Assert.True(d.ContentsKept));
        Assert.True(demos[1].Moved, demos[1].ToString()); // the block after it was in use: no room to grow
    }

    [Fact]
    public void StaircaseOfUsableSizes()
    {
        var s = MallocFamily.UsableSizes(1, 256);
        Assert.All(s.Points, p => Assert.True(p.Usable >= p.Request));
        Assert.True(s.Points.Zip(s.Points.Skip(1)).All(t => t.First.Usable <= t.Second.Usable));
        if (OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
            Assert.Equal((24L, 16L), (s.SmallestUsable, s.Step));
        Assert.Contains("\"shape\":\"hv\"", Lessons.Plotting.Charts.ToJson(MallocFamily.StaircaseFigure(s)));
    }

    [Fact]
    public void DescribeFindsTheMostCommonStep()
    {
        var s = MallocFamily.Describe([new(1, 24), new(24, 24), new(25, 40), new(40, 40), new(41, 56), new(57, 88)]);
        Assert.Equal((24L, 16L, 3, 31L), (s.SmallestUsable, s.Step, s.StepCount, s.MaxSlack));
    }

    [Fact]
    public void LibcFailuresAreENOMEM()
    {
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => MallocFamily.Xmalloc(long.MaxValue)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<PosixException>(() => LibcHeap.Calloc(1L << 62, 16)).Errno);
        Assert.Throws<ArgumentOutOfRangeException>(() => MallocFamily.Xmalloc(-1));
        nint p = MallocFamily.Xmalloc(0);
        Assert.NotEqual(0, p);
        LibcHeap.Free(p);
    }

    [Theory]
    [InlineData("ab", "cd", "ef", "gh")]
    [InlineData("", "", "", "")]
    [InlineData("héllo", " ", "世界", "🎉")]
    public void LeakyConcatenateLeaksWhatCWould(string a, string b, string c, string d)
    {
        using var heap = new CheckingHeap();
        nint[] parts = [heap.Strdup(a), heap.Strdup(b), heap.Strdup(c), heap.Strdup(d)];
        nint r = MallocFamily.LeakyConcatenate4(heap, parts[0], parts[1], parts[2], parts[3]);
        Assert.Equal(a + b + c + d, heap.ReadString(r));
        heap.Free(r);
        foreach (var p in parts) heap.Free(p);
        var report = heap.Report();
        var expected = MallocFamily.ExpectedConcatenateLeak(a, b, c, d);
        Assert.Equal(expected, (report.DefinitelyLostBytes, report.DefinitelyLostBlocks));
        Assert.Equal(nameof(MallocFamily.Concatenate), Assert.Single(report.Leaks).Site.Member);
    }

    [Fact]
    public void ConcatenateExampleFromTheCourse() =>
        Assert.Equal((10L, 2), MallocFamily.ExpectedConcatenateLeak("ab", "cd", "ef", "gh"));

    [Fact]
    public void StudentBatchLeaksExactlyWhatItSays()
    {
        using var heap = new CheckingHeap();
        var batch = MallocFamily.StoreStudents(heap, 20, 4, seed: 2024);
        Assert.Equal(5, batch.Leaked.Count);
        var r = heap.Report();
        Assert.Equal((batch.LeakedBytes, batch.LeakedBlocks), (r.DefinitelyLostBytes, r.DefinitelyLostBlocks));
        Assert.Equal(3, r.Leaks.Count);
        Assert.All(r.Leaks, l => Assert.Equal((nameof(MallocFamily.Store), 5), (l.Site.Member, l.Blocks)));
        Assert.Equal(MallocFamily.FakeStudents(20, 2024), MallocFamily.FakeStudents(20, 2024));
        Assert.Equal(batch.Leaked[0].Student.Name, heap.ReadString(batch.Leaked[0].Name));
    }
}

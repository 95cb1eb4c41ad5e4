using Lessons.L04_AnonymousMappings;
using Lessons.Posix;

namespace Lessons.Tests.L04_AnonymousMappings;

/// <summary>Process-wide: resident memory is the whole process's, and a block malloc hands out may be page-aligned
/// when other tests' threads have used the heap (seen in CI: RSS grew 9,684 KiB for 8 MiB, munmap of a block returned 0).</summary>
[Collection(TestTools.ProcessWideState.Name)]
public class ExperimentsTests
{
    [Fact]
    public void ReadingMapsTheZeroPageAndOnlyWritingAddsResidentMemory()
    {
        var r = Experiments.ReadThenWriteEveryPage(2048);
        Assert.InRange(r.ReadFaults, 2048, 2300);
        Assert.InRange(r.WriteFaults, 2048, 2300);
        Assert.True(r.ReadGrowthKiB < 2048, r.ToString());        // far below the 8 MiB the pages would take
        Assert.InRange(r.WriteGrowthKiB, 7 * 1024, 9 * 1024);     // about 2048 × 4 KiB
    }

    [Fact]
    public void TouchingAnUnmappedPageKillsTheChildWithSigsegv()
    {
        var (before, after) = Experiments.TouchBeforeAndAfterUnmap();
        Assert.Equal(0, before.ExitCode);
        Assert.Equal(Signal.SIGSEGV, after.KilledBy);
    }

    [Fact]
    public void FreeOfAMappingAbortsOrFaultsAndMunmapOfAMallocBlockIsEinval()
    {
        var runs = Experiments.ReleaseMismatches();
        Assert.Equal(4, runs.Count);
        Assert.Equal(Signal.SIGABRT, runs[0].Outcome.KilledBy);
        Assert.Contains("free(): invalid pointer", runs[0].Stderr); // glibc's message, from the child's stderr
        Assert.Equal(Signal.SIGSEGV, runs[1].Outcome.KilledBy);
        foreach (var m in runs.Skip(2))
        {
            Assert.True(m.CallReturned, m.ToString());
            Assert.Equal(-1, m.Result);
            Assert.Equal((int)Errno.EINVAL, m.Errno);
            Assert.Equal("", m.Stderr);
        }
    }

    [Fact]
    public void MremapGrowsInPlaceOrMovesWithTheContents()
    {
        var r = Experiments.Remap(4);
        long page = SysConf.PageSize;
        Assert.Equal(8 * page, r.NewLength);
        Assert.NotNull(r.WithoutMayMove);
        Assert.Equal(Errno.ENOMEM, r.WithoutMayMove.Errno);
        Assert.True(r.Moved);
        Assert.True(r.ContentsKept);
        Assert.True(r.OldAddressUnmapped);
        Assert.NotNull(r.MovedLineAfter);
    }

    [Fact]
    public void MappingResizeUpdatesAddressAndLength()
    {
        long page = SysConf.PageSize;
        using var m = Mman.MapAnonymous(page);
        m.Span[0] = 7;
        m.Resize(16 * page);
        Assert.Equal(16 * page, m.Length);
        Assert.Equal(7, m.Span[0]);
        m.Span[^1] = 1; // the new pages are there
        m.Resize(page);
        Assert.Equal(page, m.Length);
        Assert.Throws<ArgumentException>(() => m.Resize(2 * page, MremapFlags.MREMAP_FIXED));
        var e = Assert.Throws<PosixException>(() => Mman.Remap(m.Address + 1, page, 2 * page, MremapFlags.MREMAP_MAYMOVE));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith("mremap(", e.Message);
    }

    [Fact]
    public void AFailingMmapReturnsMapFailedNotNull()
    {
        var (raw, error) = Experiments.FailingMmap();
        Assert.Equal(-1, raw);
        Assert.NotEqual(0, raw);
        Assert.Equal(Errno.EINVAL, error.Errno);
    }
}

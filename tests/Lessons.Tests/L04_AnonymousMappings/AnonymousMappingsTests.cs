using Lessons.L04_AnonymousMappings;
using Lessons.Posix;

namespace Lessons.Tests.L04_AnonymousMappings;

public class AnonymousMappingsTests
{
    [Fact]
    public void ASmallMappingTakesAWholePageAndLeavesMapsWhenUnmapped()
    {
        long page = AnonymousMappings.PageSize;
        var m = Mman.MapAnonymous(42);
        nint a = m.Address;
        var region = ProcMaps.Find(a);
        Assert.NotNull(region);
        Assert.Equal(RegionKind.Anonymous, region.Kind);
        Assert.Equal("rw-p", region.Permissions);
        Assert.Null(region.Path);
        Assert.Equal(0, a % page);
        Assert.True(region.Size >= (ulong)page);
        // The kernel may merge it with an adjacent anonymous rw-p region: the line is the whole region's.
        // Read again: a mapping made by a test running in parallel may have merged with this region meanwhile.
        Assert.Contains(" rw-p ", AnonymousMappings.MapsLine(a));
        m.Dispose();
        var after = ProcMaps.Find(a);
        Assert.True(after is null || after != region,
            "the region must be gone (or something else must have taken the address)");
    }

    [Fact]
    public void MappingIsLazyAndEachTouchedPageIsOneFault()
    {
        var r = AnonymousMappings.MapAndTouch(256L << 20, [1, 10, 100, 1000]);
        Assert.Equal(Advice.MADV_NOHUGEPAGE, r.HugePageAdvice);
        Assert.Equal(4, r.Steps.Count);
        Assert.Equal(1111, r.Steps[^1].TotalPages);
        Assert.NotNull(r.MapsLine);
        // Mapping 256 MiB makes RSS grow by far less than 256 MiB; touching 1000 pages makes about 1000 faults.
        Assert.True(r.ResidentAfterMapKiB - r.ResidentBeforeKiB < 64 * 1024, r.ToString());
        Assert.InRange(r.Steps[3].MinorFaults, 1000, 1200);
        Assert.InRange(r.Steps[0].MinorFaults, 1, 50);
    }

    [Fact]
    public void TouchStepsMustFitTheMapping() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AnonymousMappings.MapAndTouch(AnonymousMappings.PageSize, [2]));

    [Fact]
    public void PopulateFaultsInMmapNotInTouching()
    {
        var rows = AnonymousMappings.ComparePopulate(8L << 20);
        Assert.Equal(2, rows.Count);
        var (lazy, populated) = (rows[0], rows[1]);
        Assert.True(lazy.FaultsInTouch > lazy.FaultsInMmap, lazy.ToString());
        Assert.True(populated.FaultsInMmap > populated.FaultsInTouch, populated.ToString());
        Assert.Equal(2048, lazy.Pages);
    }

    [Fact]
    public void TransparentHugePagesIsAModeOrUnavailable() =>
        Assert.Contains(AnonymousMappings.TransparentHugePages(), new[] { "always", "madvise", "never", "unavailable" });
}

public class MmapThresholdTests
{
    [Fact]
    public void BlocksFarAboveTheThresholdGetTheirOwnMappingAndSmallOnesDoNot()
    {
        // 64 MiB is above glibc's largest dynamic threshold (32 MiB): always mapped; 64 bytes never.
        var probe = MmapThreshold.Probe([64, 64L << 20]);
        Assert.Equal(64, probe[0].Request);
        Assert.False(probe[0].MappedByGlibc);
        Assert.False(probe[0].OwnMappingInMaps);
        Assert.True(probe[1].MappedByGlibc, probe[1].ToString());
        Assert.True(probe[1].ChunkSize >= 64L << 20);
        Assert.Equal("own mapping", probe[1].Source);
    }

    [Fact]
    public void AroundDefaultHasTheChunkEdge() =>
        Assert.Equal([64 * 1024, 120 * 1024, 131048, 131049, 131072, 132 * 1024, 256 * 1024], MmapThreshold.AroundDefault);
}

public class CostBenchmarkTests
{
    [Fact]
    public void ATinyBudgetStillGivesOneRowPerSize()
    {
        var costs = CostBenchmark.Run(TimeSpan.FromMilliseconds(1), [16, 4096, 1 << 20]);
        Assert.Equal([16L, 4096L, 1L << 20], costs.Select(c => c.Size));
        Assert.All(costs, c =>
        {
            Assert.True(c.MallocNs > 0 && c.MmapNs > 0 && c.MallocOps >= 1 && c.MmapOps >= 1, c.ToString());
            Assert.Equal(c.MmapNs / c.MallocNs, c.Ratio);
        });
        var fig = Lessons.Tests.Plotting.ChartsTests.Json(CostBenchmark.Figure(costs));
        Assert.Equal(2, fig["data"]!.AsArray().Count);
        Assert.Equal("log", (string?)fig["layout"]!["xaxis"]!["type"]);
    }

    [Fact]
    public void DefaultSizesArePowersOfFourFrom16BytesTo64MiB()
    {
        Assert.Equal(16, CostBenchmark.DefaultSizes[0]);
        Assert.Equal(64L << 20, CostBenchmark.DefaultSizes[^1]);
        Assert.All(CostBenchmark.DefaultSizes.Zip(CostBenchmark.DefaultSizes.Skip(1)), p => Assert.Equal(p.First * 4, p.Second));
    }

    [Fact]
    public void RefusesBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CostBenchmark.Run(TimeSpan.Zero, [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => CostBenchmark.Run(TimeSpan.FromSeconds(-1), [16]));
    }

    [Theory]
    [InlineData(16, "16 B")]
    [InlineData(4096, "4 KiB")]
    [InlineData(64L << 20, "64 MiB")]
    [InlineData(1000, "1000 B")]
    public void WritesSizesReadably(long size, string text) => Assert.Equal(text, CostBenchmark.Bytes(size));
}

using Lessons.L01_AddressSpace;
using Lessons.Posix;

namespace Lessons.Tests.L01_AddressSpace;

public class AddressSpaceTests
{
    [Fact]
    public void LandmarksAreFoundWhereLinuxPutsThem()
    {
        var byWhat = AddressSpace.Landmarks().ToDictionary(l => l.What);
        Assert.True(AddressSpace.IsOwnMapping(byWhat["malloc(64 MiB)"]), byWhat["malloc(64 MiB)"].ToString());
        Assert.False(AddressSpace.IsOwnMapping(byWhat["malloc(64)"]));
        Assert.Equal("rw-p", byWhat["mmap of one page"].Permissions);
        Assert.Equal(RegionKind.SharedLibrary, byWhat["libc's malloc function (machine code)"].Kind);
        Assert.Contains(byWhat["malloc(64)"].Kind, new RegionKind?[] { RegionKind.Heap, RegionKind.Anonymous });
        Assert.All(byWhat.Values, l => Assert.NotNull(l.Kind)); // every address is mapped
        // W^X off (as the tests and notebooks run): the JIT's code is writable and executable at once; on: r-x.
        Assert.Equal(AddressSpace.WriteXorExecuteOff ? "rwxp" : "r-xp", byWhat["this C# method's entry point (JIT-made code)"].Permissions);
        Assert.Equal(MallocFlags.IsMmapped, byWhat["malloc(64 MiB)"].SizeField!.Value & 3);
        // A small chunk is never mapped on its own; its PREV_INUSE bit depends on its neighbour (0 after a free chunk).
        Assert.Equal(0UL, byWhat["malloc(64)"].SizeField!.Value & MallocFlags.IsMmapped);
    }

    [Fact]
    public void SharedAnonymousMemoryIsSharedMemoryNotAFile()
    {
        var (line, region) = AddressSpace.SharedAnonymousPage();
        Assert.Equal("rw-s", line.Split(' ')[1]);
        Assert.EndsWith("/dev/zero (deleted)", line, StringComparison.Ordinal);
        Assert.Equal(RegionKind.SharedMemory, region.Kind);
        Assert.True(AddressSpace.IsSharedAnonymous(region));
    }

    [Fact]
    public void TheVsyscallPageCannotBeReadButGettimeofdayThereWorks()
    {
        var (outcome, seconds) = AddressSpace.CallVsyscallInChild();
        Assert.Equal(0, outcome.ExitCode);
        Assert.InRange(seconds, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal(Signal.SIGSEGV, AddressSpace.TouchInChild(unchecked((nint)AddressSpace.VsyscallGettimeofday)).KilledBy);
    }

    [Fact]
    public void SummaryTableHasAHeaderALinePerKindAndATotal()
    {
        var totals = AddressSpace.Summary();
        var lines = AddressSpace.SummaryTable(totals).Split('\n');
        Assert.Equal(totals.Count + 2, lines.Length);
        Assert.StartsWith("kind", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("total", lines[^1], StringComparison.Ordinal);
        Assert.All(AddressSpace.HugePageSizesKiB(), kib => Assert.True(kib > AddressSpace.PageSize / 1024));
    }

    [Fact]
    public void SummaryAddsUpToTheRegions()
    {
        var regions = AddressSpace.Regions();
        var summary = AddressSpace.Summary(regions);
        Assert.Equal(regions.Count, summary.Sum(t => t.Regions));
        Assert.Equal(regions.Aggregate(0UL, (s, r) => s + r.Size), summary.Aggregate(0UL, (s, t) => s + t.Bytes));
        Assert.Contains(summary, t => t.Kind == RegionKind.Stack && t.Regions == 1);
    }

    [Fact]
    public void FiguresHaveOneTracePerKindAndOneBarPerKind()
    {
        var regions = AddressSpace.Regions();
        int kinds = regions.Where(r => r.Kind != RegionKind.Vsyscall).Select(r => r.Kind).Distinct().Count();
        Assert.Equal(kinds, Lessons.Tests.Plotting.ChartsTests.Json(AddressSpace.LayoutFigure(regions))["data"]!.AsArray().Count);
        var bars = Lessons.Tests.Plotting.ChartsTests.Json(AddressSpace.SizeFigure(AddressSpace.Summary(regions)))["data"]![0]!["x"]!.AsArray();
        Assert.Equal(regions.Select(r => r.Kind).Distinct().Count(), bars.Count);
    }

    [Fact]
    public void TouchingAddressZeroKillsOnlyTheChild() =>
        Assert.Equal(Signal.SIGSEGV, AddressSpace.TouchInChild(0).KilledBy);
}

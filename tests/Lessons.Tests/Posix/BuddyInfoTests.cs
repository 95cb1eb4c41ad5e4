using Lessons.Posix;

namespace Lessons.Tests.Posix;

public class BuddyInfoTests
{
    const string Sample = """
        Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 
        Node 0, zone    DMA32      2      4      2      2      1      2      0      3      3      1    753 
        Node 0, zone   Normal    515   2194   1754   1438    753    352    122     24     14      3    818 

        """;

    [Fact]
    public void Parses_node_zone_and_one_count_per_order()
    {
        var zones = BuddyInfo.Parse(Sample.Split('\n'));

        Assert.Equal(["DMA", "DMA32", "Normal"], zones.Select(z => z.Zone));
        Assert.All(zones, z => Assert.Equal(0, z.Node));
        Assert.All(zones, z => Assert.Equal(10, z.MaxOrder));
        Assert.Equal(new BuddyZone(0, "Normal", [515, 2194, 1754, 1438, 753, 352, 122, 24, 14, 3, 818]), zones[2]);
        Assert.Equal(3, zones[0].BlocksOfOrder(10));
        Assert.Equal(256 + 512 + 3 * 1024, zones[0].FreePages);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Node 0, zone Normal")]
    [InlineData("Node x, zone Normal 1 2")]
    [InlineData("Node 0, zone Normal 1 -2 3")]
    [InlineData("Zone 0, node Normal 1 2 3")]
    public void A_line_in_another_format_is_a_format_error_quoting_it(string line)
    {
        var e = Assert.Throws<FormatException>(() => BuddyInfo.ParseLine(line));
        Assert.Contains($"\"{line}\"", e.Message);
    }

    [Fact]
    public void This_machine_has_zones_with_free_blocks()
    {
        var zones = BuddyInfo.Read();

        Assert.NotEmpty(zones);
        Assert.Contains(zones, z => z.FreePages > 0);
        Assert.All(zones, z => Assert.Equal(zones[0].MaxOrder, z.MaxOrder));
    }
}

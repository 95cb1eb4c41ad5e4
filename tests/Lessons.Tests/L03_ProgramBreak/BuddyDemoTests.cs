using Lessons.L03_ProgramBreak;

namespace Lessons.Tests.L03_ProgramBreak;

public class BuddyDemoTests
{
    [Fact]
    public void Waste_is_the_block_minus_the_request()
    {
        var w = BuddyDemo.Waste([1, 16, 17, 112, 113]);

        Assert.Equal([32L, 32, 64, 128, 256], w.Select(x => x.BlockSize));
        Assert.Equal(143, w[^1].Wasted);
        Assert.Equal(0.5, w[1].WastedFraction);
    }
}

using Lessons.L08_ForkSharedMappings;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.L08_ForkSharedMappings;

[Collection(ProcessWideState.Name)] // counts every child of the test host: no other test may fork or start processes meanwhile
public class SharedMappingsTests
{
    [Fact]
    public void ASharedMappingCarriesTheChildsReplyBackToTheParent()
    {
        var run = SharedMappings.HelloGoodbye(shared: true);
        Assert.Equal(0, run.Outcome.ExitCode);
        Assert.Equal("hello", run.ChildRead);
        Assert.Equal("goodbye", run.ParentReadAfter);
        Assert.True(run.SameAddress);
        Assert.True(run.ParentSeesChildsWrite);
        Assert.NotEqual(Environment.ProcessId, run.ChildPid);
        Assert.Contains("MAP_SHARED", run.ToString());
    }

    [Fact]
    public void APrivateMappingKeepsTheChildsWriteInTheChild()
    {
        var run = SharedMappings.HelloGoodbye(shared: false, "ping", "pong");
        Assert.Equal(0, run.Outcome.ExitCode);
        Assert.Equal("ping", run.ChildRead);
        Assert.Equal("ping", run.ParentReadAfter);
        Assert.True(run.SameAddress);
        Assert.False(run.ParentSeesChildsWrite);
    }

    [Fact]
    public void MessagesLongerThanASlotAreRefused()
    {
        Assert.Throws<ArgumentException>(() => SharedMappings.HelloGoodbye(true, new string('x', SharedMappings.MessageCapacity + 1)));
    }

    [Fact]
    public unsafe void TheTableChangedByTheChildIsSeenByTheParent()
    {
        var run = SharedMappings.TableDemo();
        Assert.Equal(0, run.Outcome.ExitCode);
        Assert.Equal(2 * PairTable.Length * sizeof(int) + sizeof(int), run.Size);
        Assert.Equal(sizeof(PairTable), run.Size);
        Assert.All(run.BBefore, b => Assert.Equal(0, b));
        Assert.Equal(Enumerable.Range(1, 30).Select(i => i * i), run.BAfter);
        Assert.Equal(1, run.ChildWrites);
        Assert.True(run.ParentSeesEveryChange);
    }

    [Fact]
    public void APointerMadeAfterTheForkDoesNotShowTheParentsBytesInTheChild()
    {
        var run = SharedMappings.HeapPointerDemo("a text the child cannot see");
        Assert.Equal("a text the child cannot see", run.ParentSees);
        Assert.True(run.Differs);
        Assert.True(run.Outcome.ExitCode == 0 || run.Outcome.KilledBy == Signal.SIGSEGV, run.Outcome.ToString());
    }

    [Fact]
    public void MovingObjectDemoReportsBothAddresses()
    {
        var run = SharedMappings.MovingObjectDemo();
        Assert.NotEqual(0, run.Before);
        Assert.NotEqual(0, run.After);
        // A compacting full collection moves the young object out of the garbage it was allocated among
        // and promotes it: a pointer taken before the GC is stale after it.
        Assert.True(run.Moved, run.ToString());
        Assert.NotEqual(run.Before, run.After);
        Assert.Equal(0, run.GenerationBefore);
        Assert.True(run.GenerationAfter > run.GenerationBefore, run.ToString());
        Assert.Contains("moved: yes", run.ToString());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void InterlockedLosesNoUpdates(int children)
    {
        var run = SharedMappings.Race(children, 20_000, atomic: true);
        Assert.Equal(children * 20_000L, run.Obtained);
        Assert.Equal(0, run.Lost);
    }

    [Fact]
    public void PlainIncrementsNeverGainAndOneChildLosesNothing()
    {
        var one = SharedMappings.Race(1, 50_000, atomic: false);
        Assert.Equal(50_000, one.Obtained);
        var four = SharedMappings.Race(4, 50_000, atomic: false);
        Assert.InRange(four.Obtained, 1, four.Expected);
    }

    [Fact]
    public void RaceRefusesNonsense()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedMappings.Race(0, 10, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => SharedMappings.Race(2, 0, true));
    }

    [Fact]
    public void AShortStressRunIsExactAndLeavesNoChildren()
    {
        var run = ForkSafety.Stress(20, 1);
        Assert.Equal(20, run.Counter);
        Assert.Equal(0, run.Errors);
        Assert.Equal(0, run.ChildrenLeft); // every child of the test host: this class runs alone (ProcessWideState)
        Assert.True(run.Exact, run.ToString());
        Assert.Contains("exact", run.ToString());
    }
}

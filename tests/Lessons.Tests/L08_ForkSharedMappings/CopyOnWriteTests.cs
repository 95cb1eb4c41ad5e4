using Lessons.L08_ForkSharedMappings;
using TestTools;

namespace Lessons.Tests.L08_ForkSharedMappings;

[Collection(ProcessWideState.Name)] // forks: no other test may fork or start processes meanwhile
public class CopyOnWriteTests
{
    [Fact]
    public void The_childs_first_write_to_a_private_page_faults_and_gives_it_a_page_of_its_own()
    {
        var run = CopyOnWrite.Measure();
        Assert.Equal(0, run.Outcome.ExitCode);
        Assert.True(run.FaultsDuringWrite >= 1, run.ToString());
        Assert.True(run.ChildBefore.Present, run.ToString());
        Assert.False(run.ChildBefore.Exclusive, run.ToString());
        Assert.False(run.ParentBefore.Exclusive, run.ToString());
        Assert.True(run.ChildAfter.Exclusive, run.ToString());
        Assert.True(run.ParentAfter.Exclusive, run.ToString());
        Assert.Equal(0x11, run.ParentByteAfter);
        if (run.FramesVisible)
        {
            Assert.Equal(run.ParentBefore.Pfn, run.ChildBefore.Pfn);
            Assert.NotEqual(run.ChildBefore.Pfn, run.ChildAfter.Pfn);
            Assert.Equal(run.ParentBefore.Pfn, run.ParentAfter.Pfn);
        }
    }

    [Fact]
    public void Pagemap_bits_are_decoded()
    {
        var e = new PagemapEntry((1UL << 63) | (1UL << 56) | 0x1234);
        Assert.True(e.Present);
        Assert.True(e.Exclusive);
        Assert.Equal(0x1234UL, e.Pfn);
        Assert.Contains("hidden (0)", new PagemapEntry(1UL << 63).ToString());
    }

    [Fact]
    public void Minor_faults_of_this_process_are_read_from_proc_stat() =>
        Assert.True(CopyOnWrite.MinorFaults(Environment.ProcessId) > 0);
}

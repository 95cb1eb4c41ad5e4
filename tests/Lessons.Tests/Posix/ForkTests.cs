using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Lessons.Tests.Posix;

public class ForkTests
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int ExitWith(nint code) => (int)code;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int WriteToReadOnly(nint page)
    {
        *(int*)page = 1; // the page is PROT_READ: SIGSEGV
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int Increment(nint shared)
    {
        for (int i = 0; i < 1000; i++) Interlocked.Increment(ref *(int*)shared);
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Spin(nint _)
    {
        while (true) Thread.SpinWait(1000);
    }

    static int calls;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int CountCalls(nint zeros)
    {
        calls++; // in the parent only the warm-up call counts: children change their own copy
        return *(long*)zeros == 0 ? 3 : 4;
    }

    [Fact]
    public void TheBodyRunsOnceInTheParentOnZerosBeforeTheFirstFork()
    {
        using var page = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        page.Span[0] = 1;
        Assert.Equal(4, Fork.Run(CountCalls, page.Address).ExitCode); // the child sees the real argument
        Assert.Equal(4, Fork.Run(CountCalls, page.Address).ExitCode);
        Assert.Equal(1, calls); // one warm-up in the parent, on zeros
    }

    [Fact]
    public void ReportsTheChildsExitCode()
    {
        var outcome = Fork.Run(ExitWith, 7);
        Assert.Equal(7, outcome.ExitCode);
        Assert.Equal($"child {outcome.Pid} exited with code 7", outcome.ToString());
    }

    [Fact]
    public void AFaultKillsTheChildNotTheHost()
    {
        using var page = Mman.MapAnonymous(SysConf.PageSize, Prot.PROT_READ);
        var outcome = Fork.Run(WriteToReadOnly, page.Address);
        Assert.Equal(Signal.SIGSEGV, outcome.KilledBy);
        Assert.Contains("killed by SIGSEGV", outcome.ToString());
        Assert.Equal(0, page.Span[0]); // and we are still here
    }

    [Fact]
    public void ChildrenShareAMapSharedPage()
    {
        using var shared = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        var children = Enumerable.Range(0, 4).Select(_ => Fork.Start(Increment, shared.Address)).ToList();
        foreach (var c in children)
        {
            Assert.Equal(0, c.Wait().ExitCode);
            c.Dispose();
        }
        Assert.Equal(4000, MemoryMarshal.Read<int>(shared.Span));
    }

    [Fact]
    public void AChildPastItsDeadlineIsKilledAndReported()
    {
        var options = new ForkOptions { RunDeadline = TimeSpan.FromMilliseconds(200), WarmUp = false };
        using var child = Fork.Start(Spin, 0, options);
        var e = Assert.Throws<TimeoutException>(() => child.Wait());
        Assert.Contains($"child {child.Pid} did not finish", e.Message);
        Assert.Equal(Errno.ECHILD, Assert.Throws<PosixException>(() => Signals.Waitpid(child.Pid, noHang: true)).Errno); // reaped
    }

    [Fact]
    public void DisposingARunningChildKillsAndReapsIt()
    {
        int pid;
        using (var child = Fork.Start(Spin, 0, new ForkOptions { WarmUp = false }))
            pid = child.Pid;
        Assert.Equal(Errno.ECHILD, Assert.Throws<PosixException>(() => Signals.Waitpid(pid, noHang: true)).Errno); // reaped
    }

    [Fact]
    public void ABodyTheRuntimeMightRecompileIsRefused()
    {
        // An optimized (Release) assembly's method without AggressiveOptimization: tiered, so refused.
        var e = Assert.Throws<InvalidOperationException>(() => Fork.Run(nint.Sign));
        Assert.Contains("AggressiveOptimization", e.Message);
    }

    [Fact]
    public void KillOfANonexistentProcessIsEsrch()
    {
        var e = Assert.Throws<PosixException>(() => Signals.Kill(int.MaxValue, Signal.SIGTERM));
        Assert.Equal(Errno.ESRCH, e.Errno);
    }
}

public class SignalsTests
{
    [Fact]
    public void WaitpidOfAProcessThatIsNotOurChildIsEchild()
    {
        var e = Assert.Throws<PosixException>(() => Signals.Waitpid(1));
        Assert.Equal(Errno.ECHILD, e.Errno);
        Assert.Contains("only a parent can wait", e.Message);
    }

    [Fact]
    public void IsAliveSeesThisProcessAndNotAReapedChild()
    {
        Assert.True(Signals.IsAlive(Environment.ProcessId));
        Assert.False(Signals.IsAlive(0));
        using var p = System.Diagnostics.Process.Start("true")!;
        p.WaitForExit();
        int pid = p.Id;
        p.Dispose();
        Assert.False(Signals.IsAlive(pid));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int ExitAtOnce(nint _) => 0;

    [Fact]
    public void AZombieIsNotAliveAndLeavesItsGroup()
    {
        using var child = Fork.Start(ExitAtOnce);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string State() => File.ReadAllText($"/proc/{child.Pid}/stat").Split(')')[^1].Trim()[..1];
        while (State() != "Z" && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(5);
        Assert.Equal("Z", State()); // exited, not reaped yet: kill(pid, 0) still succeeds
        Assert.False(Signals.IsAlive(child.Pid));
        int group = int.Parse(File.ReadAllText("/proc/self/stat").Split(')')[^1].Trim().Split(' ')[2]);
        Assert.DoesNotContain(child.Pid, Signals.GroupMembers(group));
        Assert.Contains(Environment.ProcessId, Signals.GroupMembers(group));
        Assert.Equal(0, child.Wait().ExitCode);
    }
}

using Lessons.Posix;

namespace Lessons.Tests.Posix;

/// <summary>
/// The window between creating an IPC object and registering its clean-up: a signal's run of the clean-ups that comes
/// then waits for the registration (so the object is removed), and nothing is created once a run has begun.
/// </summary>
public class CleanupGateTests
{
    [Fact]
    public void A_run_that_comes_during_a_creation_waits_for_its_registration()
    {
        var gate = new CleanupGate();
        var registered = new List<string>();
        var removed = new List<string>();
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int created = 0;
        var creator = new Thread(() => created = gate.Creating(() =>
        {
            inside.Set();
            release.Wait(); // shm_open has returned; Register has not run yet
            lock (registered) registered.Add("/workbook-object");
            return 1;
        }));
        creator.Start();
        Assert.True(inside.Wait(TimeSpan.FromSeconds(10)));
        var signal = new Thread(() => gate.Run(() => { lock (registered) removed.AddRange(registered); }));
        signal.Start();
        if (signal.Join(TimeSpan.FromMilliseconds(300)))
            Assert.Fail("the clean-ups ran while an object was between its creation and its registration");
        release.Set();
        Assert.True(creator.Join(TimeSpan.FromSeconds(10)));
        Assert.True(signal.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, created);
        Assert.Equal(["/workbook-object"], removed);
    }

    [Fact]
    public void Nothing_is_created_once_a_run_has_begun()
    {
        var gate = new CleanupGate();
        Assert.False(gate.Stopping);
        gate.Run(() => { });
        Assert.True(gate.Stopping);
        bool called = false;
        var e = Assert.Throws<OperationCanceledException>(() => gate.Creating(() => called = true));
        Assert.False(called);
        Assert.Contains("stopping", e.Message);
    }

    [Fact]
    public void A_creation_that_throws_leaves_the_gate_open()
    {
        var gate = new CleanupGate();
        Assert.Throws<InvalidOperationException>(() => gate.Creating<int>(() => throw new InvalidOperationException("EEXIST")));
        Assert.Equal(2, gate.Creating(() => 2));
    }
}

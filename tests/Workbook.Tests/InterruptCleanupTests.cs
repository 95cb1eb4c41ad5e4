using System.Diagnostics;
using Lessons.Posix;
using Workbook.Notebooks;

namespace Workbook.Tests;

/// <summary>
/// A real workbook process that owns a System V segment and a /dev/shm name is stopped with SIGTERM or SIGINT:
/// both are gone afterwards (the CLI passes the signal to its W^X-off child, whose clean-up removes them).
/// </summary>
public class InterruptCleanupTests
{
    [Theory]
    [InlineData(Signal.SIGTERM)]
    [InlineData(Signal.SIGINT)]
    public void A_stopped_process_leaves_no_segment_and_no_shm_name(Signal signal)
    {
        int key = 0x5800_0000 | Random.Shared.Next(1, 0xff_ffff);
        string name = $"/workbook-test-interrupt-{Guid.NewGuid():N}";
        using var temp = new TempFolder();
        string lessons = Path.Combine(AppContext.BaseDirectory, "Lessons.dll");
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
                NotebookFile.CodeCell($"#r \"{lessons}\""),
                NotebookFile.CodeCell($"""
                    var segment = Lessons.Posix.OwnedSegment.Create(0x{key:x}, 64);
                    var (shmName, fd) = Lessons.Posix.OwnedShmName.Create("{name}", 64);
                    System.Threading.Thread.Sleep(60_000);
                    """)),
            temp.File("hold.ipynb"));

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "run", temp.File("hold.ipynb"), "--out", temp.File("out") })
            start.ArgumentList.Add(a);
        start.Environment.Remove(Fork.WriteXorExecuteVariable); // exercise the CLI's restart too
        using var process = Process.Start(start)!;
        try
        {
            var clock = Stopwatch.StartNew();
            while (!(Exists(key) && File.Exists("/dev/shm" + name)))
            {
                if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(60))
                    Assert.Fail($"the notebook did not create its segment and name:\n{process.StandardOutput.ReadToEnd()}\n{process.StandardError.ReadToEnd()}");
                Thread.Sleep(50);
            }

            Signals.Kill(process.Id, signal);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the workbook did not stop");
            clock.Restart();
            while ((Exists(key) || File.Exists("/dev/shm" + name)) && clock.Elapsed < TimeSpan.FromSeconds(10))
                Thread.Sleep(50); // the restarted child may end a moment after its parent

            Assert.False(Exists(key), $"segment 0x{key:x} was left behind");
            Assert.False(File.Exists("/dev/shm" + name), $"{name} was left behind");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            if (Exists(key)) SysVShm.Remove(SysVShm.Get(key, 0));
            if (File.Exists("/dev/shm" + name)) PosixShm.Unlink(name);
        }
    }

    static bool Exists(int key)
    {
        try { SysVShm.Get(key, 0); return true; }
        catch (PosixException e) when (e.Errno == Errno.ENOENT) { return false; }
    }
}

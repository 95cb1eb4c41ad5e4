using System.Diagnostics;
using Lessons.Posix;
using Workbook.Notebooks;

namespace Workbook.Tests;

/// <summary>
/// A real workbook process that owns a System V segment and a /dev/shm name is stopped with SIGTERM, SIGINT, SIGHUP or
/// SIGKILL: both are gone afterwards, and so is the W^X-off child the CLI restarted itself as (it gets the first three
/// passed on, and SIGTERM from the kernel when its parent dies of the fourth).
/// </summary>
public class InterruptCleanupTests
{
    [Theory]
    [InlineData(Signal.SIGTERM)]
    [InlineData(Signal.SIGINT)]
    [InlineData(Signal.SIGHUP)]
    [InlineData(Signal.SIGKILL)]
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

            int worker = SysVShm.Stat(SysVShm.Get(key, 0)).CreatorPid;
            Assert.NotEqual(process.Id, worker); // the segment is the restarted child's
            Signals.Kill(process.Id, signal);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the workbook did not stop");
            clock.Restart();
            while ((Exists(key) || File.Exists("/dev/shm" + name) || Signals.IsAlive(worker)) && clock.Elapsed < TimeSpan.FromSeconds(15))
                Thread.Sleep(50); // the restarted child may end a moment after its parent

            Assert.False(Signals.IsAlive(worker), $"the restarted child {worker} still runs after {signal} to its parent");
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

    /// <summary>
    /// The lesson 10 server, started as the README starts it (`dotnet run --project lessons/Workbook`, which runs the CLI
    /// as its child, which restarts itself), or directly: SIGKILL or SIGHUP to the process the user started ends every
    /// process below it, and the segment is removed.
    /// </summary>
    [Theory]
    [InlineData(false, Signal.SIGKILL)]
    [InlineData(false, Signal.SIGHUP)]
    [InlineData(true, Signal.SIGKILL)]
    public async Task Killing_the_started_server_ends_every_process_below_it(bool dotnetRun, Signal signal)
    {
        int key = 0x5800_0000 | Random.Shared.Next(1, 0xff_ffff);
        string[] server = ["uptime-server", "--key", $"0x{key:x}", "--interval-ms", "100"];
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args = dotnetRun
            ? ["run", "--no-build", "--project", Path.Combine(Repository.FindRoot(AppContext.BaseDirectory)!, "lessons", "Workbook"), "--", .. server]
            : [CommandLineTests.WorkbookDll, .. server];
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove(Fork.WriteXorExecuteVariable);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            while (!Exists(key))
            {
                if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(90))
                    Assert.Fail($"the server did not create its segment:\n{process.StandardError.ReadToEnd()}");
                Thread.Sleep(50);
            }
            int worker = SysVShm.Stat(SysVShm.Get(key, 0)).CreatorPid;
            var below = Descendants(process.Id);
            Assert.Contains(worker, below);
            Assert.Equal(dotnetRun ? 2 : 1, below.Count); // dotnet run → CLI → its restarted self

            Signals.Kill(process.Id, signal);
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the started process did not stop");
            clock.Restart();
            while ((below.Any(Signals.IsAlive) || Exists(key)) && clock.Elapsed < TimeSpan.FromSeconds(15))
                Thread.Sleep(50);
            Assert.False(below.Any(Signals.IsAlive), $"still running after {signal}: {string.Join(", ", below.Where(Signals.IsAlive))}");
            Assert.False(Exists(key), $"segment 0x{key:x} was left behind");
            if (signal == Signal.SIGHUP)
                Assert.Contains("uptime-server: SIGHUP: detaching and removing the segment", await output);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            if (Exists(key)) SysVShm.Remove(SysVShm.Get(key, 0));
        }
    }

    /// <summary>Every process below <paramref name="pid"/> (children, their children…), from /proc.</summary>
    static List<int> Descendants(int pid)
    {
        var parentOf = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int p)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parentOf[p] = int.Parse(fields[1]);
            }
            catch (IOException) { }
        }
        var found = new List<int>();
        var todo = new Queue<int>([pid]);
        while (todo.TryDequeue(out int next))
            foreach (var (child, parent) in parentOf)
                if (parent == next) { found.Add(child); todo.Enqueue(child); }
        return found;
    }

    static bool Exists(int key)
    {
        try { SysVShm.Get(key, 0); return true; }
        catch (PosixException e) when (e.Errno == Errno.ENOENT) { return false; }
    }
}

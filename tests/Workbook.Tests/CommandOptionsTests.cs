using System.Diagnostics;
using Lessons.Posix;
using Workbook.Release;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>Bad values are named with the range they must be in (exit 2), --help is usage on stdout (exit 0).</summary>
public class CommandOptionsTests
{
    [Theory]
    [InlineData("heap-fuzz: --ops needs a whole number from 0 to 10000000, not '-1'", "heap-fuzz", "--ops", "-1")]
    [InlineData("heap-fuzz: --arena-mib needs a whole number from 1 to 1024, not '0'", "heap-fuzz", "--arena-mib", "0")]
    [InlineData("heap-fuzz: no single allocator named 'nope'", "heap-fuzz", "--allocator", "nope")]
    [InlineData("heap-fuzz: --seed needs a value", "heap-fuzz", "--seed")]
    [InlineData("fork-stress: --threads needs a whole number from 0 to 64, not '1000'", "fork-stress", "--threads", "1000")]
    [InlineData("fork-stress: --forks needs a whole number from 1 to 1000000, not '0'", "fork-stress", "--forks", "0")]
    [InlineData("fork-stress: unknown option '--fast'", "fork-stress", "--fast")]
    [InlineData("alloc-cost: --budget-ms needs a whole number from 0 to 600000, not '5s'", "alloc-cost", "--budget-ms", "5s")]
    [InlineData("mmap-probe: unknown option '--all'", "mmap-probe", "--all")]
    [InlineData("malloc-lab: --min-seconds needs a number of seconds in [0, 3600], not 'NaN'", "malloc-lab", "--allocator", "naive", "--min-seconds", "NaN")]
    [InlineData("malloc-lab: --write-traces needs a folder; /etc/passwd is a file (nothing written)", "malloc-lab", "--write-traces", "/etc/passwd")]
    public void A_bad_value_is_named_and_exits_2(string message, params string[] args)
    {
        var (exitCode, stdout, stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, .. args], AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

        Assert.True(exitCode == 2, $"exit {exitCode}\n{stdout}\n{stderr}");
        Assert.StartsWith(message + "\n", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("{empty}")]
    public void Validate_release_of_a_folder_that_is_no_student_copy_says_so_and_exits_1(string folder)
    {
        using var temp = new TempFolder();
        folder = folder.Replace("{empty}", temp.Path);
        var (exitCode, stdout, stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "validate-release", folder], AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

        Assert.True(exitCode == 1, $"exit {exitCode}\n{stdout}\n{stderr}");
        Assert.Equal($"validate-release: {folder} is not a student copy: it has no release-manifest.json (release --out writes one)\n", stderr);
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("heap-fuzz")]
    [InlineData("fork-stress")]
    [InlineData("alloc-cost")]
    [InlineData("mmap-probe")]
    [InlineData("malloc-lab")]
    public void Help_is_the_usage_on_stdout_with_exit_0(string command)
    {
        var (exitCode, stdout, stderr) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, command, "--help"], AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

        Assert.Equal(0, exitCode);
        Assert.StartsWith("usage: ", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Fork_stress_stops_on_SIGTERM_with_the_figures_so_far_and_exit_1()
    {
        using var process = StartForkStress();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // The first line comes once a signal stops it gracefully; however long the start took on a loaded machine.
            var first = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(2));
            if (first?.StartsWith("fork-stress: forks=1000000", StringComparison.Ordinal) != true)
                Assert.Fail($"first line: {first}\n{await stderr}"); // awaits its end: only once it failed
            await Task.Delay(TimeSpan.FromSeconds(1)); // forking with 64 threads allocating
            var stdout = process.StandardOutput.ReadToEndAsync();

            Signals.Kill(process.Id, Signal.SIGTERM);

            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "fork-stress did not stop within 30 s of SIGTERM");
            Assert.True(process.ExitCode == 1, $"exit {process.ExitCode}, stderr:\n{await stderr}\nstdout:\n{await stdout}");
            Assert.Contains("fork-stress: SIGTERM: stopping after the fork in progress", await stderr);
            Assert.Matches(@"forks done:\s+\d+ \(with 64 threads allocating meanwhile\), INTERRUPTED", await stdout);
            Assert.Contains("children left:     0", await stdout);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>
    /// A SIGTERM while the command is still starting (before it restarts itself with W^X off, while it starts the
    /// restarted child, or before that child's handler is in place) stops it too, and the restarted child with it.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(40)]
    [InlineData(80)]
    [InlineData(120)]
    [InlineData(200)]
    public async Task Fork_stress_stopped_while_it_starts_leaves_no_process_behind(int delayMs)
    {
        using var process = StartForkStress();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await Task.Delay(delayMs);
            Signals.Kill(process.Id, Signal.SIGTERM);

            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"fork-stress did not stop within 60 s of a SIGTERM {delayMs} ms after its start");
            if (process.ExitCode is not (1 or 143))
                Assert.Fail($"exit {process.ExitCode}\n{await stdout}\n{await stderr}");
            Assert.DoesNotContain("   at ", await stderr);
            // The restarted child has the launcher's pid in its start-up environment; it must be gone too.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (RestartedBy(process.Id) is { Count: > 0 } left)
            {
                Assert.True(DateTime.UtcNow < deadline, $"restarted child(ren) {string.Join(", ", left)} still running 30 s after the launcher ended");
                await Task.Delay(100);
            }
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            foreach (int pid in RestartedBy(process.Id))
                try { Signals.Kill(pid, Signal.SIGKILL); } catch (PosixException) { }
        }
    }

    static Process StartForkStress()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "fork-stress", "--forks", "1000000", "--threads", "64", "--no-compare" })
            start.ArgumentList.Add(a);
        start.Environment.Remove(Fork.WriteXorExecuteVariable);
        return Process.Start(start)!;
    }

    /// <summary>Processes started with <see cref="WriteXorExecute.ParentPidVariable"/> = <paramref name="launcher"/>.</summary>
    static List<int> RestartedBy(int launcher)
    {
        var mark = $"{WriteXorExecute.ParentPidVariable}={launcher}";
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(mark)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    [Fact]
    public void Release_refuses_a_symlink_into_the_repository_and_a_file()
    {
        using var temp = new TempFolder();
        var root = Directory.CreateDirectory(temp.File("repo")).FullName;
        Directory.CreateDirectory(Path.Combine(root, "inside"));
        File.CreateSymbolicLink(temp.File("link"), Path.Combine(root, "inside"));
        File.CreateSymbolicLink(temp.File("relative"), "repo");
        File.WriteAllText(temp.File("file"), "x");

        var viaLink = Assert.Throws<IOException>(() => StudentRelease.Write(root, temp.File("link/student")));
        var viaRelative = Assert.Throws<IOException>(() => StudentRelease.Write(root, temp.File("relative/inside/../student")));
        var file = Assert.Throws<IOException>(() => StudentRelease.Write(root, temp.File("file")));
        var underFile = Assert.Throws<IOException>(() => StudentRelease.Write(root, temp.File("file/student")));

        Assert.Equal($"{temp.File("link/student")} (that is {Path.Combine(root, "inside", "student")}) is inside the repository: release outside it", viaLink.Message);
        Assert.EndsWith($"(that is {Path.Combine(root, "student")}) is inside the repository: release outside it", viaRelative.Message);
        Assert.Equal($"{temp.File("file")} is a file: --out names a new folder", file.Message);
        Assert.Equal($"{temp.File("file/student")} cannot be created: {temp.File("file")} is a file", underFile.Message);
        Assert.Equal(["file", "link", "relative", "repo"], Directory.EnumerateFileSystemEntries(temp.Path).Select(Path.GetFileName).Order());
        Assert.Equal(["inside"], Directory.EnumerateFileSystemEntries(root).Select(Path.GetFileName));
    }
}

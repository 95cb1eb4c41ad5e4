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
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "fork-stress", "--forks", "1000000", "--threads", "64" })
            start.ArgumentList.Add(a);
        start.Environment.Remove(Fork.WriteXorExecuteVariable);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(4)); // started, forking with 64 threads allocating
            if (process.HasExited)
                Assert.Fail($"fork-stress ended early:\n{await stdout}\n{await stderr}");

            Signals.Kill(process.Id, Signal.SIGTERM);

            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "fork-stress did not stop within 30 s of SIGTERM");
            Assert.Equal(1, process.ExitCode);
            Assert.Contains("fork-stress: SIGTERM: stopping after the fork in progress", await stderr);
            Assert.Matches(@"forks done:\s+\d+ \(with 64 threads allocating meanwhile\), INTERRUPTED", await stdout);
            Assert.Contains("children left:     0", await stdout);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
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

using System.Diagnostics;
using Lessons.L09_PosixShm;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>shm-producer and shm-consumer as real, separate processes, each test with a name of its own.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class ShmCommandsTests
{
    static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) =>
        RunProcess("dotnet", [CommandLineTests.WorkbookDll, .. args], AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

    static string FreshName() => $"/workbook-test-09-{Environment.ProcessId}-{Guid.NewGuid():N}";

    static bool InDevShm(string name) => File.Exists("/dev/shm" + name);

    [Fact]
    public void The_producer_leaves_a_0600_object_and_the_consumer_prints_the_message_and_unlinks_it()
    {
        string name = FreshName();
        try
        {
            var produced = Run("shm-producer", "--name", name, "--message", "hello from the producer ✓");
            Assert.True(produced.ExitCode == 0, produced.Stderr);
            Assert.True(InDevShm(name), "the producer's object is not in /dev/shm");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode("/dev/shm" + name));
            Assert.Equal(4096, new FileInfo("/dev/shm" + name).Length);

            var consumed = Run("shm-consumer", "--name", name);
            Assert.True(consumed.ExitCode == 0, consumed.Stderr);
            Assert.Contains("\nhello from the producer ✓\n", consumed.Stdout);
            Assert.Contains($"unlinked {name}", consumed.Stdout);
            Assert.False(InDevShm(name), "the consumer left the name in /dev/shm");
        }
        finally { Cleanup(name); }
    }

    [Fact]
    public void A_consumer_started_first_reports_enoent_and_exits_non_zero()
    {
        string name = FreshName();
        var r = Run("shm-consumer", "--name", name);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("ENOENT", r.Stderr);
        Assert.Contains($"shm_open(name=\"{name}\"", r.Stderr);
        Assert.False(InDevShm(name));
    }

    [Fact]
    public void A_producer_whose_name_exists_reports_eexist_and_leaves_the_first_message()
    {
        string name = FreshName();
        try
        {
            Assert.Equal(0, Run("shm-producer", "--name", name, "--message", "first").ExitCode);
            var second = Run("shm-producer", "--name", name, "--message", "second");
            Assert.Equal(1, second.ExitCode);
            Assert.Contains("EEXIST", second.Stderr);
            var consumed = Run("shm-consumer", "--name", name);
            Assert.Contains("\nfirst\n", consumed.Stdout);
        }
        finally { Cleanup(name); }
        Assert.False(InDevShm(name));
    }

    [Theory]
    [InlineData("no-slash", "must start with '/'")]
    [InlineData("/a/b", "may contain no '/' after the first")]
    [InlineData("/", "needs at least one character")]
    public void Bad_names_are_refused_with_a_clear_message(string name, string expected)
    {
        foreach (var args in new[] { new[] { "shm-producer", "--name", name, "--message", "x" }, ["shm-consumer", "--name", name] })
        {
            var r = Run(args);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains(expected, r.Stderr);
        }
    }

    [Fact]
    public void A_name_longer_than_255_characters_is_refused()
    {
        var r = Run("shm-consumer", "--name", "/" + new string('a', 256));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("longer than 255", r.Stderr);
    }

    [Fact]
    public void A_message_too_long_for_the_size_is_refused_and_nothing_is_created()
    {
        string name = FreshName();
        var r = Run("shm-producer", "--name", name, "--size", "16", "--message", "123456789");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("holds at most 8", r.Stderr);
        Assert.False(InDevShm(name));
    }

    [Fact]
    public void Mode_sets_the_permissions()
    {
        string name = FreshName();
        try
        {
            Assert.Equal(0, Run("shm-producer", "--name", name, "--mode", "0400", "--message", "x").ExitCode);
            Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode("/dev/shm" + name));
            Assert.Equal(0, Run("shm-consumer", "--name", name).ExitCode);
        }
        finally { Cleanup(name); }
    }

    [Fact]
    public void A_holding_producer_sees_the_consumer_unlink_and_exits()
    {
        string name = FreshName();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "shm-producer", "--name", name, "--message", "held", "--hold", "60" })
            start.ArgumentList.Add(a);
        using var producer = Process.Start(start)!;
        try
        {
            Assert.True(ShmDemo.WaitForName(name, TimeSpan.FromSeconds(30)), "the producer did not create the name");
            var consumed = Run("shm-consumer", "--name", name);
            Assert.Contains("\nheld\n", consumed.Stdout);
            Assert.True(producer.WaitForExit(TimeSpan.FromSeconds(30)), "the producer did not notice the unlink");
            Assert.Equal(0, producer.ExitCode);
            Assert.Contains("the consumer unlinked", producer.StandardOutput.ReadToEnd());
        }
        finally
        {
            if (!producer.HasExited) producer.Kill();
            Cleanup(name);
        }
        Assert.False(InDevShm(name));
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public void A_holding_producer_stopped_by_a_signal_unlinks_the_name(string signal)
    {
        string name = FreshName();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "shm-producer", "--name", name, "--message", "stop me", "--hold", "60" })
            start.ArgumentList.Add(a);
        using var producer = Process.Start(start)!;
        try
        {
            Assert.True(ShmDemo.WaitForName(name, TimeSpan.FromSeconds(30)), "the producer did not create the name");
            using (var kill = Process.Start("kill", [$"-{signal}", producer.Id.ToString()])) kill.WaitForExit();
            Assert.True(producer.WaitForExit(TimeSpan.FromSeconds(30)), $"the producer ignored SIG{signal}");
            Assert.False(InDevShm(name), $"SIG{signal} left the name in /dev/shm");
        }
        finally
        {
            if (!producer.HasExited) producer.Kill();
            Cleanup(name);
        }
    }

    [Fact]
    public void A_holding_producer_unlinks_the_name_when_the_time_is_up()
    {
        string name = FreshName();
        var r = Run("shm-producer", "--name", name, "--message", "nobody reads me", "--hold", "0.2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("unlinking it", r.Stdout);
        Assert.False(InDevShm(name));
    }

    static void Cleanup(string name)
    {
        try { File.Delete("/dev/shm" + name); } catch (IOException) { }
    }
}

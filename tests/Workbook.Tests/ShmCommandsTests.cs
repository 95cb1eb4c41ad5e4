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
    [InlineData("/.", "may not be \".\" or \"..\"")]
    [InlineData("/..", "may not be \".\" or \"..\"")]
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
        Assert.Contains("longer than 255 bytes", r.Stderr);
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
        using var producer = StartHolding(name, "held");
        try
        {
            Assert.True(ShmDemo.WaitForName(name, TimeSpan.FromSeconds(30)), "the producer did not create the name");
            var consumed = Run("shm-consumer", "--name", name);
            Assert.Contains("\nheld\n", consumed.Stdout);
            Assert.True(producer.WaitForExit(TimeSpan.FromSeconds(30)), "the producer did not notice the unlink");
            Assert.Equal(0, producer.ExitCode);
            Assert.Contains($"{name} was unlinked", producer.StandardOutput.ReadToEnd());
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
        using var producer = StartHolding(name, "stop me");
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

    static Process StartHolding(string name, string message = "held")
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "shm-producer", "--name", name, "--message", message, "--hold", "60" })
            start.ArgumentList.Add(a);
        return Process.Start(start)!;
    }

    [Fact]
    public void A_holding_producer_whose_name_was_recreated_by_another_process_leaves_that_object_alone()
    {
        string name = FreshName();
        using var producer = StartHolding(name);
        try
        {
            Assert.True(ShmDemo.WaitForName(name, TimeSpan.FromSeconds(30)), "the producer did not create the name");
            Thread.Sleep(200); // past the producer's first check
            // Another process's object takes the name in one step (rename replaces ours atomically).
            string theirs = "/dev/shm" + name + "-theirs";
            File.WriteAllBytes(theirs, new byte[4096]);
            var inode = Lessons.Posix.FileDescriptors.TryStatus(theirs)!.Value.Inode;
            File.Move(theirs, "/dev/shm" + name, overwrite: true);
            Assert.True(producer.WaitForExit(TimeSpan.FromSeconds(30)), "the producer did not notice the new object");
            string said = producer.StandardOutput.ReadToEnd();
            Assert.Equal(1, producer.ExitCode);
            Assert.Contains("now refers to another object", said);
            Assert.DoesNotContain("the consumer", said);
            Assert.True(InDevShm(name), "the producer unlinked the other process's object");
            Assert.Equal(inode, Lessons.Posix.PosixShm.StatusOfName(name)!.Value.Inode);
        }
        finally
        {
            if (!producer.HasExited) producer.Kill();
            Cleanup(name);
        }
        Assert.False(InDevShm(name));
    }

    [Fact]
    public void A_holding_producer_whose_name_was_removed_unread_does_not_claim_the_consumer_read_it()
    {
        string name = FreshName();
        using var producer = StartHolding(name);
        try
        {
            Assert.True(ShmDemo.WaitForName(name, TimeSpan.FromSeconds(30)), "the producer did not create the name");
            File.Delete("/dev/shm" + name);
            Assert.True(producer.WaitForExit(TimeSpan.FromSeconds(30)), "the producer did not notice the unlink");
            string said = producer.StandardOutput.ReadToEnd();
            Assert.Equal(0, producer.ExitCode);
            Assert.Contains($"{name} was unlinked", said);
            Assert.Contains("the name cannot tell", said);
            Assert.DoesNotContain("the consumer unlinked", said);
        }
        finally
        {
            if (!producer.HasExited) producer.Kill();
            Cleanup(name);
        }
    }

    [Fact]
    public void A_consumer_refuses_an_object_larger_than_the_protocol_allows_without_a_crash()
    {
        string name = FreshName();
        var (owned, fd) = Lessons.Posix.OwnedShmName.Create(name, 3L << 30); // sparse on tmpfs
        using (owned)
        using (fd)
        {
            var r = Run("shm-consumer", "--name", name);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("more than the protocol's maximum", r.Stderr);
            Assert.DoesNotContain("Unhandled", r.Stderr);
            Assert.True(InDevShm(name), "the consumer unlinked an object that is not a workbook message");
        }
        Assert.False(InDevShm(name));
    }

    [Theory]
    [InlineData("fifo", "is a FIFO")]
    [InlineData("directory", "is a directory")]
    public void A_consumer_refuses_what_is_not_a_regular_file_and_does_not_block(string kind, string expected)
    {
        string name = FreshName(), path = "/dev/shm" + name;
        try
        {
            if (kind == "fifo")
                Assert.Equal(0, RunProcess("mkfifo", [path], "/", TimeSpan.FromSeconds(30)).ExitCode);
            else
                Directory.CreateDirectory(path);
            var r = Run("shm-consumer", "--name", name); // a blocking open of a FIFO would hit Run's timeout
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(expected, r.Stderr);
            Assert.DoesNotContain("lseek", r.Stderr);
        }
        finally
        {
            if (Directory.Exists(path)) Directory.Delete(path);
            Cleanup(name);
        }
        Assert.False(Path.Exists(path));
    }

    [Fact]
    public void A_symbolic_link_at_the_name_is_eloop_with_its_own_message()
    {
        string name = FreshName(), path = "/dev/shm" + name;
        File.CreateSymbolicLink(path, "/etc/hostname");
        try
        {
            var r = Run("shm-consumer", "--name", name);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("ELOOP", r.Stderr);
            Assert.Contains("is a symbolic link", r.Stderr);
            Assert.DoesNotContain("has the producer created it yet", r.Stderr);
        }
        finally { Cleanup(name); }
    }

    [TestTools.RequiresTool(TestTools.Tool.RootSetpriv)] // the consumer runs as nobody
    public void Another_users_object_is_eacces_with_its_own_message()
    {
        string name = FreshName();
        try
        {
            Assert.Equal(0, Run("shm-producer", "--name", name, "--message", "mine").ExitCode);
            var r = RunProcess("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "dotnet", CommandLineTests.WorkbookDll,
                "shm-consumer", "--name", name], "/", TimeSpan.FromMinutes(1));
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("EACCES", r.Stderr);
            Assert.Contains("does not let this user open it", r.Stderr);
            Assert.DoesNotContain("has the producer created it yet", r.Stderr);
        }
        finally { Cleanup(name); }
    }

    [Fact]
    public void The_name_limit_is_255_bytes_of_utf8_not_characters()
    {
        var r = Run("shm-consumer", "--name", "/" + new string('é', 200));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("is 400 bytes of UTF-8 after the '/', longer than 255 bytes", r.Stderr);
    }

    [Fact]
    public void The_producer_prints_the_mode_the_object_has_and_names_the_umask()
    {
        string name = FreshName();
        try
        {
            var r = RunProcess("sh", ["-c", "umask 077 && exec dotnet \"$0\" shm-producer --name \"$1\" --mode 666 --message x",
                CommandLineTests.WorkbookDll, name], "/", TimeSpan.FromMinutes(1));
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode("/dev/shm" + name));
            Assert.Contains("mode 0600, not the 0666 asked for: the umask cleared 066", r.Stdout);
        }
        finally { Cleanup(name); }
    }

    [Fact]
    public void Eexist_advice_is_given_only_for_an_existing_object()
    {
        var dot = Run("shm-producer", "--name", "/.", "--message", "x");
        Assert.Equal(2, dot.ExitCode);
        Assert.DoesNotContain("consume it first", dot.Stderr);
        string name = FreshName(), path = "/dev/shm" + name;
        Directory.CreateDirectory(path);
        try
        {
            var dir = Run("shm-producer", "--name", name, "--message", "x");
            Assert.Equal(1, dir.ExitCode);
            Assert.Contains("EEXIST", dir.Stderr);
            Assert.Contains("is a directory, not a shared memory object", dir.Stderr);
            Assert.DoesNotContain("consume it first", dir.Stderr);
        }
        finally { Directory.Delete(path); }
    }

    static void Cleanup(string name)
    {
        try { File.Delete("/dev/shm" + name); } catch (IOException) { }
    }
}

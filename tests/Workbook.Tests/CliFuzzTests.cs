using System.Diagnostics;
using Bogus;
using Lessons.Posix;
using Xunit.Abstractions;

namespace Workbook.Tests;

/// <summary>
/// The CLI as a hostile user drives it. The fuzz test gives every command Bogus-generated arguments (a seed per run,
/// printed); the kill test SIGKILLs the process the user started for each long-running command. Afterwards nothing the
/// runs started is left: no process (each run's processes carry a marker in their environment), no System V segment
/// (by creator pid or key) and no /dev/shm name of theirs.
/// </summary>
public class CliFuzzTests(ITestOutputHelper output)
{
    const string Marker = "WORKBOOK_TEST_RUN";

    /// <summary>Values a hostile user types: empty, signs, overflow, NaN, hex, paths, long UTF-8.</summary>
    static readonly string[] HostileValues =
    [
        "", " ", "-1", "0", "1", "07", "1.5", "NaN", "Infinity", "-0", "1e309", "2147483648", "9223372036854775808",
        "18446744073709551616", "0x", "0xg", "0x7fffffff", "0xffffffff80000003", "08", "abc", "--help", "-h", "--",
        "/", "/.", "/..", "//", "/a/b", "../../etc/passwd", "/etc/passwd", "/proc/self/mem", new string('é', 200),
        "%s%n", "\t", "true",
    ];

    /// <summary>Each command's options (a trailing '=' takes a value) and how a valid run stays small.</summary>
    static readonly Dictionary<string, string[]> Options = new()
    {
        ["alloc-cost"] = ["--budget-ms="],
        ["mmap-probe"] = [],
        ["malloc-lab"] = ["--allocator=", "--traces=", "--format=", "--min-seconds=", "--list", "--write-traces="], // not --json: a hostile path would be overwritten
        ["heap-fuzz"] = ["--ops=", "--allocator=", "--seed=", "--arena-mib="],
        ["break-trace"] = ["--count=", "--size=", "--threshold=", "--free-and-retry", "--top-pad=", "--trim-threshold=", "--free-all", "--trim", "--on-thread", "--json"],
        ["fork-stress"] = ["--forks=", "--threads="],
        ["shm-producer"] = ["--name=", "--size=", "--mode=", "--hold=", "--message="],
        ["shm-consumer"] = ["--name=", "--keep"],
        ["uptime-server"] = ["--key=", "--size=", "--mode=", "--ticks=", "--interval-ms="],
        ["uptime-client"] = ["--key=", "--count=", "--interval-ms="],
        ["uptime-load"] = ["--clients=", "--seconds=", "--key=", "--no-seqlock"],
        ["uptime-status"] = ["--key="],
        ["help"] = [],
        // These build, write a copy of the repository or install a kernel: only bad arguments here, their own tests run them.
        ["release"] = [],
        ["validate-release"] = [],
        ["grade"] = [],
        ["gradescope"] = [],
        ["gradescope-run"] = [],
        ["kernel"] = [],
        ["run"] = [],
    };

    /// <summary>Small valid values, so that a run that parses goes quickly.</summary>
    static readonly Dictionary<string, string[]> SmallValues = new()
    {
        ["--budget-ms"] = ["0", "50"],
        ["--allocator"] = ["naive", "buddy", "first-fit"],
        ["--min-seconds"] = ["0", "0.05"],
        ["--format"] = ["auto", "classic", "cmu"],
        ["--ops"] = ["0", "500"],
        ["--seed"] = ["7", "-3"],
        ["--arena-mib"] = ["1", "2"],
        ["--count"] = ["1", "3"],
        ["--size"] = ["64", "4096", "100000"],
        ["--threshold"] = ["131072"],
        ["--top-pad"] = ["0"],
        ["--trim-threshold"] = ["0"],
        ["--forks"] = ["1", "20"],
        ["--threads"] = ["0", "1"],
        ["--mode"] = ["600", "0644"],
        ["--hold"] = ["0", "1"],
        ["--message"] = ["hi", "é"],
        ["--ticks"] = ["1", "2"],
        ["--interval-ms"] = ["10", "50"],
        ["--clients"] = ["1", "2"],
        ["--seconds"] = ["1"],
    };

    [Fact]
    public void Every_command_survives_generated_arguments()
    {
        int seed = Environment.GetEnvironmentVariable("WORKBOOK_FUZZ_SEED") is { } s ? int.Parse(s) : Random.Shared.Next();
        output.WriteLine($"seed {seed} (WORKBOOK_FUZZ_SEED={seed} repeats this run)");
        var faker = new Faker { Random = new Randomizer(seed) };
        var runs = new List<string>();
        var clock = Stopwatch.StartNew();
        foreach (var command in Options.Keys.Order(StringComparer.Ordinal))
        {
            for (int i = 0; i < 3 && clock.Elapsed < TimeSpan.FromMinutes(3); i++)
            {
                var (args, key, name) = Generate(faker, command);
                // Without --hold a producer that succeeds leaves its object for the consumer, by design.
                bool leavesName = command == "shm-producer" && !args.Contains("--hold");
                // heap-fuzz's default run (100,000 checked ops on each of 7 allocators) takes 16-21 s here by itself
                var run = RunMarked(args, TimeSpan.FromSeconds(command == "heap-fuzz" ? 60 : 20), key, leavesName ? null : name);
                runs.Add($"{run.ExitCode}  {Shown(args)}");
                Assert.True(run.ExitCode is 0 or 1 or 2, $"exit {run.ExitCode}: {Shown(args)}\n{run.Stderr}");
                Assert.False(HasStackTrace(run.Stderr), $"a stack trace: {Shown(args)}\n{run.Stderr}");
                Assert.True(run.Leftovers.Count == 0, $"left behind by {Shown(args)}: {string.Join("; ", run.Leftovers)}");
            }
        }
        output.WriteLine(string.Join('\n', runs));
        output.WriteLine($"{runs.Count} runs, {runs.Count(r => r.StartsWith('2'))} usage errors, {clock.Elapsed.TotalSeconds:0} s");
    }

    /// <summary>
    /// SIGKILL to the process the user started (the CLI restarts itself as a child, which may start more): within 15 s
    /// no process of the run is left, nor its segment or name.
    /// </summary>
    [Theory]
    [InlineData("uptime-server", "--key", "{key}", "--interval-ms", "50")]
    [InlineData("uptime-load", "--key", "{key}", "--clients", "2", "--seconds", "60")]
    [InlineData("uptime-client", "--key", "{key}", "--interval-ms", "50")]
    [InlineData("fork-stress", "--forks", "1000000", "--threads", "1")]
    [InlineData("shm-producer", "--name", "{name}", "--message", "held", "--hold", "60")]
    [InlineData("heap-fuzz", "--ops", "10000000")]
    public void Sigkill_to_a_long_running_command_leaves_nothing(params string[] template)
    {
        int key = 0x5a00_0000 | Random.Shared.Next(1, 0xff_ffff);
        string name = $"/workbook-test-kill-{Guid.NewGuid():N}";
        var args = template.Select(a => a.Replace("{key}", $"0x{key:x}").Replace("{name}", name)).ToArray();
        using var server = template[0] == "uptime-client" ? StartMarked(["uptime-server", "--key", $"0x{key:x}", "--interval-ms", "50"], out _) : null;
        if (server is not null) WaitFor(() => SegmentsOf(key, []).Count > 0, "the server's segment");

        using var process = StartMarked(args, out string marker);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        WaitFor(() => Marked(marker).Count >= 2 || process.HasExited, "the restarted worker");
        Thread.Sleep(1500); // let it get going: segment made, clients started, forks running
        if (process.HasExited) Assert.Fail($"{Shown(args)} ended by itself:\n{Join(stdout, stderr)}");
        var pids = Marked(marker);

        Signals.Kill(process.Id, Signal.SIGKILL);
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(10)));
        // The client's server is this test's own: its segment is checked once the server is stopped.
        var left = Leftovers(marker, pids, server is null ? key : 0, name, TimeSpan.FromSeconds(15));
        if (server is not null) { Signals.Kill(server.Id, Signal.SIGTERM); server.WaitForExit(TimeSpan.FromSeconds(15)); }
        if (left.Count > 0) Assert.Fail($"left behind after SIGKILL to {Shown(args)}: {string.Join("; ", left)}\n{Join(stdout, stderr)}");
        Assert.Empty(SegmentsOf(key, []));
    }

    static string Join(Task<string> stdout, Task<string> stderr) =>
        (stdout.Wait(TimeSpan.FromSeconds(5)) ? stdout.Result : "") + (stderr.Wait(TimeSpan.FromSeconds(5)) ? stderr.Result : "");

    static (string[] Args, int Key, string Name) Generate(Faker faker, string command)
    {
        int key = 0x5b00_0000 | faker.Random.Int(1, 0xff_ffff);
        string name = $"/workbook-test-fuzz-{Guid.NewGuid():N}";
        var args = new List<string> { command };
        // Objects get this run's key and name first; a later hostile one overrides them and is refused or is ours too.
        if (command.StartsWith("uptime-", StringComparison.Ordinal)) args.AddRange(["--key", $"0x{key:x}"]);
        if (command.StartsWith("shm-", StringComparison.Ordinal)) args.AddRange(["--name", name]);
        if (command == "shm-producer") args.AddRange(["--message", "fuzz"]);
        var options = Options[command];
        int count = faker.Random.Int(0, 3);
        for (int i = 0; i < count; i++)
        {
            if (options.Length == 0 || faker.Random.Bool(0.15f))
            {
                args.Add(faker.PickRandom("--bogus", "-x", faker.Lorem.Word(), "--" + faker.Lorem.Word(), faker.PickRandom(HostileValues)));
                continue;
            }
            var option = faker.PickRandom(options);
            if (!option.EndsWith('='))
            {
                args.Add(option);
                continue;
            }
            var bare = option.TrimEnd('=');
            args.Add(bare);
            if (faker.Random.Bool(0.1f)) continue; // the value missing
            args.Add(SmallValues.TryGetValue(bare, out var small) && faker.Random.Bool(0.4f) ? faker.PickRandom(small) : faker.PickRandom(HostileValues));
        }
        // A run that parses must end on its own: the uptime server and client get a bound unless they already fail.
        if (command is "uptime-server" && !args.Contains("--ticks")) args.AddRange(["--ticks", "2", "--interval-ms", "10"]);
        if (command is "uptime-client" && !args.Contains("--count")) args.AddRange(["--count", "1", "--interval-ms", "10"]);
        return ([.. args], key, name);
    }

    sealed record MarkedRun(int ExitCode, string Stdout, string Stderr, List<string> Leftovers);

    /// <summary>Runs the CLI to its end (SIGTERM after <paramref name="timeout"/>, as a user's Ctrl+C), then looks for leftovers.</summary>
    static MarkedRun RunMarked(string[] args, TimeSpan timeout, int key, string? name)
    {
        using var process = StartMarked(args, out string marker);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var pids = new HashSet<int>();
        var clock = Stopwatch.StartNew();
        while (!process.WaitForExit(TimeSpan.FromMilliseconds(100)))
        {
            pids.UnionWith(Marked(marker));
            if (clock.Elapsed > timeout)
            {
                Signals.Kill(process.Id, Signal.SIGTERM);
                if (!process.WaitForExit(TimeSpan.FromSeconds(30))) process.Kill(entireProcessTree: true);
                break;
            }
        }
        process.WaitForExit();
        var left = Leftovers(marker, [.. pids], key, name, TimeSpan.FromSeconds(10));
        if (name is null) // the producer's object, left for a consumer: removed here (the run's own unique name)
            foreach (var file in Directory.EnumerateFiles("/dev/shm", "workbook-test-fuzz-*").Where(f => args.Any(a => "/dev/shm" + a == f)))
                File.Delete(file);
        return new MarkedRun(process.ExitCode, stdout.Result, stderr.Result, left);
    }

    static Process StartMarked(string[] args, out string marker)
    {
        marker = Guid.NewGuid().ToString("N");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(CommandLineTests.WorkbookDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove(Fork.WriteXorExecuteVariable); // the restart too
        start.Environment[Marker] = marker;
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        return process;
    }

    /// <summary>
    /// What is left after a grace period: marked processes, segments at the key (unless 0) or made by the run's pids,
    /// the name (unless null).
    /// </summary>
    static List<string> Leftovers(string marker, List<int> pids, int key, string? name, TimeSpan grace)
    {
        List<string> Find() =>
        [
            .. Marked(marker).Select(p => $"process {p}"),
            .. SegmentsOf(key, pids).Select(s => $"segment {s}"),
            .. name is not null && File.Exists("/dev/shm" + name) ? [$"/dev/shm{name}"] : Array.Empty<string>(),
        ];
        var clock = Stopwatch.StartNew();
        while (Find().Count > 0 && clock.Elapsed < grace) Thread.Sleep(100);
        var left = Find();
        // Clean up after a failure, so that one failing run does not leak into the machine.
        foreach (var pid in Marked(marker)) { try { Signals.Kill(pid, Signal.SIGKILL); } catch (PosixException) { } }
        if (name is not null && File.Exists("/dev/shm" + name)) File.Delete("/dev/shm" + name);
        return left;
    }

    /// <summary>Processes whose environment holds the marker (they inherit it from the started one).</summary>
    static List<int> Marked(string marker)
    {
        var found = new List<int>();
        var needle = $"{Marker}={marker}";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(needle) && !IsZombie(dir)) found.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return found;
    }

    static bool IsZombie(string dir)
    {
        var stat = File.ReadAllText(Path.Combine(dir, "stat"));
        return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
    }

    /// <summary>Segments (as "key shmid cpid") at <paramref name="key"/> or created by one of <paramref name="pids"/>.</summary>
    static List<string> SegmentsOf(int key, IEnumerable<int> pids)
    {
        var creators = pids.ToHashSet();
        return [.. File.ReadLines("/proc/sysvipc/shm").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 4 && (key != 0 && long.Parse(f[0]) == key || creators.Contains(int.Parse(f[4]))))
            .Select(f => $"key 0x{(uint)long.Parse(f[0]):x8} shmid {f[1]} cpid {f[4]}")];
    }

    static void WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"{what} did not appear within 60 s");
            Thread.Sleep(50);
        }
    }

    static bool HasStackTrace(string stderr) =>
        stderr.Contains("Unhandled exception", StringComparison.Ordinal) || stderr.Split('\n').Any(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) && l.Contains('('));

    static string Shown(IEnumerable<string> args) => string.Join(' ', args.Select(a => a.Length == 0 || a.Any(char.IsWhiteSpace) ? $"'{a}'" : a));
}

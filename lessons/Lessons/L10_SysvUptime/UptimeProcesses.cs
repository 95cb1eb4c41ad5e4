using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>What a finished CLI command printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit code {ExitCode}\n{Output}{(Error.Length > 0 ? "stderr: " + Error : "")}".TrimEnd();
}

/// <summary>
/// Starts the workbook's up-time commands as real child processes (<c>dotnet Workbook.dll uptime-…</c>), for
/// the notebook and the tests. The workbook is found at <see cref="WorkbookFromNotebooks"/> unless given.
/// </summary>
public static class UptimeProcesses
{
    /// <summary>Where the workbook CLI is built, relative to the notebooks folder.</summary>
    public const string WorkbookFromNotebooks = "../lessons/Workbook/bin/Debug/net10.0/Workbook.dll";

    /// <summary>A key for one run: 0x5A000000 | random, so runs and tests never share a segment.</summary>
    public static int UniqueKey() => 0x5A00_0000 | Random.Shared.Next(1, 0xff_ffff);

    /// <summary>True if a segment has this key (shmget(key, 0, 0) succeeds).</summary>
    public static bool SegmentExists(int key)
    {
        try { SysVShm.Get(key, 0); return true; }
        catch (PosixException e) when (e.Errno == Errno.ENOENT) { return false; }
    }

    /// <summary>IPC_STAT of the key's segment, or null when there is none.</summary>
    public static SegmentStatus? Status(int key)
    {
        try { return SysVShm.Stat(SysVShm.Get(key, 0)); }
        catch (PosixException e) when (e.Errno is Errno.ENOENT or Errno.EINVAL or Errno.EIDRM) { return null; }
    }

    internal static ProcessStartInfo StartInfo(string? workbookDll, IEnumerable<string> args)
    {
        string dll = Path.GetFullPath(workbookDll ?? WorkbookFromNotebooks);
        if (!File.Exists(dll))
            throw new FileNotFoundException($"the workbook CLI is not built at {dll}: run `dotnet build lessons/Workbook` in the repository", dll);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // W^X off from the start: the CLI then does not restart itself, so the child we start is the server itself.
        start.Environment[Fork.WriteXorExecuteVariable] = "0";
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>Runs a command to its end (uptime-client, uptime-status, …) and returns what it printed.</summary>
    public static CliResult Run(string[] args, string? workbookDll = null, TimeSpan? timeout = null)
    {
        using var child = Process.Start(StartInfo(workbookDll, args)) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
            throw new TimeoutException($"workbook {string.Join(' ', args)} did not finish in time");
        }
        return new CliResult(child.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts <c>uptime-server</c> and waits until it has created (or taken over) and attached its segment.</summary>
    public static ServerProcess StartServer(int key, int intervalMs = 1000, long? ticks = null, string? workbookDll = null, TimeSpan? timeout = null)
    {
        var args = new List<string> { "uptime-server", "--key", Checked.Hex(key), "--interval-ms", intervalMs.ToString() };
        if (ticks is not null) args.AddRange(["--ticks", ticks.Value.ToString()]);
        return new ServerProcess(key, Process.Start(StartInfo(workbookDll, args)) ?? throw new InvalidOperationException("could not start dotnet"),
            timeout ?? TimeSpan.FromSeconds(60));
    }

    static string DotnetHost()
    {
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (root is not null && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        return "dotnet";
    }
}

/// <summary>
/// A running <c>uptime-server</c> child. Dispose stops it if it still runs (SIGTERM, so it removes its segment), and so
/// does the end of this process (through <see cref="ProcessCleanup"/>), so a notebook that fails leaves no server behind.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    readonly Process process;
    readonly List<string> output = new();
    readonly Action cleanup;

    internal ServerProcess(int key, Process process, TimeSpan timeout)
    {
        Key = key;
        this.process = process;
        // If the notebook or test process ends (or gets Ctrl+C) first, the server is stopped with it.
        cleanup = () => Dispose();
        ProcessCleanup.Register(cleanup);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add("stderr: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (!(OutputHas("uptime-server: pid") && UptimeProcesses.SegmentExists(key))) // it prints once the segment is attached
        {
            if (process.HasExited)
            {
                process.WaitForExit();
                throw new InvalidOperationException($"uptime-server exited with {process.ExitCode}:\n{string.Join('\n', Output)}");
            }
            if (clock.Elapsed > timeout)
            {
                Dispose();
                throw new TimeoutException($"uptime-server did not create key {Checked.Hex(key)} in {timeout.TotalSeconds} s");
            }
            Thread.Sleep(20);
        }
    }

    public int Key { get; }
    public int Pid => process.Id;
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;

    /// <summary>Every line the server printed so far (stderr lines start with "stderr: ").</summary>
    public IReadOnlyList<string> Output { get { lock (output) return output.ToArray(); } }

    bool OutputHas(string text) => Output.Any(line => line.Contains(text));

    /// <summary>Sends <paramref name="signal"/> (SIGTERM, SIGINT or SIGKILL) and waits for the exit; returns the exit code.</summary>
    public int Stop(Signal signal = Signal.SIGTERM, TimeSpan? timeout = null)
    {
        if (!process.HasExited) Signals.Kill(process.Id, signal);
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
            throw new TimeoutException($"uptime-server pid {Pid} did not stop after {signal}");
        process.WaitForExit(); // flush the output events
        return process.ExitCode;
    }

    /// <summary>Waits for a server started with --ticks to end.</summary>
    public int WaitForExit(TimeSpan? timeout = null) =>
        process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)) ? Wait() : throw new TimeoutException($"uptime-server pid {Pid} still runs");

    int Wait() { process.WaitForExit(); return process.ExitCode; }

    public void Dispose()
    {
        ProcessCleanup.Unregister(cleanup);
        try { if (!process.HasExited) Stop(Signal.SIGTERM); }
        catch (Exception) { try { process.Kill(); } catch (InvalidOperationException) { } }
        process.Dispose();
    }

    public override string ToString() => $"uptime-server pid {Pid} key {Checked.Hex(Key)}{(process.HasExited ? $" (exited with {process.ExitCode})" : " (running)")}";
}

using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// Starts the workbook's up-time server as a real child process (<see cref="WorkbookCli"/>), for the notebook and the
/// tests, and looks at segments by key. The other commands run with <see cref="WorkbookCli.Run"/>.
/// </summary>
public static class UptimeProcesses
{
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

    /// <summary>Starts <c>uptime-server</c> and waits until it has created (or taken over) and attached its segment.</summary>
    public static ServerProcess StartServer(int key, int intervalMs = 1000, long? ticks = null, string? workbookDll = null, TimeSpan? timeout = null)
    {
        var args = new List<string> { "uptime-server", "--key", CFormat.Hex(key), "--interval-ms", intervalMs.ToString() };
        if (ticks is not null) args.AddRange(["--ticks", ticks.Value.ToString()]);
        return new ServerProcess(key, WorkbookCli.Start(args, workbookDll),
            timeout ?? TimeSpan.FromSeconds(60));
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
                throw new TimeoutException($"uptime-server did not create key {CFormat.Hex(key)} in {timeout.TotalSeconds} s");
            }
            Thread.Sleep(20);
        }
    }

    public int Key { get; }
    public int Pid => process.Id;
    public bool HasExited => process.HasExited;
    /// <summary>The exit code once the server has exited; null while it runs (Process.ExitCode would throw then).</summary>
    public int? ExitCode => process.HasExited ? process.ExitCode : null;

    /// <summary>What a notebook shows of the server: pid, key and whether it runs (no Process object, no output log).</summary>
    public ServerSummary Summary => new(Pid, CFormat.Hex(Key), !process.HasExited, ExitCode);

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

    public override string ToString() => $"uptime-server pid {Pid} key {CFormat.Hex(Key)}{(process.HasExited ? $" (exited with {process.ExitCode})" : " (running)")}";
}

/// <summary>A server handle as a notebook displays it: pid, key, running, and the exit code once it ended.</summary>
public sealed record ServerSummary(int Pid, string Key, bool Running, int? ExitCode)
{
    public override string ToString() =>
        $"uptime-server pid {Pid} key {Key}{(Running ? " (running)" : $" (exited with {ExitCode})")}";
}

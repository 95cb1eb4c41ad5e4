using System.Diagnostics;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Workbook;

/// <summary>
/// The workbook forks (lessons 06, 08, the stress command), which is only safe with .NET's W^X mode off
/// (see <see cref="Fork.CodeIsSharedAcrossFork"/>). The variable must be set before the runtime starts, so the
/// CLI starts itself again with it when it is missing, passing signals on and returning the child's exit code.
/// The "run" command also starts with dynamic PGO off (<see cref="TieredPgoVariable"/>). The restarted child dies
/// with the process that started it (<see cref="TieWorkerToParent"/>): a SIGKILL to the command the user started
/// must not leave the real worker running.
/// </summary>
static class WriteXorExecute
{
    /// <summary>
    /// Dynamic PGO first runs hot methods in instrumented code before optimizing them; the runner compiles new code in
    /// every cell, and with it off all ten notebooks ran in 25 s instead of 29 s (two runs each, same machine and minute).
    /// </summary>
    public const string TieredPgoVariable = "DOTNET_TieredPGO";

    /// <summary>Set in the restarted child's environment: the pid of the process that started it.</summary>
    public const string ParentPidVariable = "WORKBOOK_RESTARTED_BY";

    /// <summary>
    /// In a restarted child, or a process that `dotnet run` started: ask the kernel for SIGTERM when the starting process
    /// dies (so this one's clean-up runs: segments removed, names unlinked, children reaped), and exit at once if it has
    /// died already. The variable is removed, so processes this one starts are not tied to its parent. Returns an exit
    /// code to stop with, or null.
    /// </summary>
    public static int? TieWorkerToParent()
    {
        string? value = Environment.GetEnvironmentVariable(ParentPidVariable);
        int parent = Signals.ParentPid;
        if (value is null)
        {
            // `dotnet run` starts this program as its child and cannot pass on a SIGKILL it gets: tie this process
            // to it too. Under a shell nothing changes (a command started with nohup or & outlives the shell).
            if (!IsDotnetRun(parent)) return null;
            value = parent.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        Environment.SetEnvironmentVariable(ParentPidVariable, null);
        Signals.SetParentDeathSignal(Signal.SIGTERM);
        if (!int.TryParse(value, out int expected) || Signals.ParentPid != expected)
        {
            Console.Error.WriteLine($"workbook: the process that started this one (pid {value}) has ended; stopping");
            return 1;
        }
        return null;
    }

    /// <summary>True when <paramref name="pid"/> runs <c>dotnet run …</c> (its command line in /proc).</summary>
    static bool IsDotnetRun(int pid)
    {
        string[] argv;
        try { argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0'); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
        return argv.Length > 1 && Path.GetFileName(argv[0]) == "dotnet" && argv[1] == "run";
    }

    public static bool NeedsRestart(string[] args) =>
        Fork.CodeIsSharedAcrossFork || (IsRun(args) && Environment.GetEnvironmentVariable(TieredPgoVariable) is null);

    static bool IsRun(string[] args) => args.Length > 0 && args[0] == "run";

    /// <summary>
    /// How to start this CLI again with <paramref name="args"/>, tied to this process (<see cref="TieWorkerToParent"/>):
    /// its own executable, or the dotnet host with Workbook.dll (as `dotnet Workbook.dll`, or from a test host).
    /// </summary>
    public static ProcessStartInfo StartSelf(IEnumerable<string> args)
    {
        string dll = typeof(WriteXorExecute).Assembly.Location;
        string? host = Environment.ProcessPath;
        bool ownExecutable = host is not null && Path.GetFileName(host) == Path.GetFileNameWithoutExtension(dll);
        if (!ownExecutable && (host is null || Path.GetFileNameWithoutExtension(host) != "dotnet"))
            host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet"; // e.g. a test host
        var start = new ProcessStartInfo(host!) { UseShellExecute = false };
        if (!ownExecutable)
            start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[ParentPidVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return start;
    }

    public static int RestartWithItOff(string[] args)
    {
        var start = StartSelf(args);
        start.Environment[Fork.WriteXorExecuteVariable] = "0";
        if (IsRun(args) && Environment.GetEnvironmentVariable(TieredPgoVariable) is null)
            start.Environment[TieredPgoVariable] = "0";

        var gate = new object();
        Process? child = null;
        Signal? early = null; // a signal that came while the child was being started
        // Pass SIGTERM, SIGINT and SIGHUP (a closed terminal) on; one that also reached the child directly arrives twice:
        // harmless. SIGKILL cannot be caught: the child's parent-death signal covers it.
        void PassOn(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            var sig = ctx.Signal switch { PosixSignal.SIGINT => Signal.SIGINT, PosixSignal.SIGHUP => Signal.SIGHUP, _ => Signal.SIGTERM };
            lock (gate)
            {
                if (child is null) early ??= sig;
                else Send(child, sig);
            }
        }
        static void Send(Process to, Signal sig)
        {
            try { Signals.Kill(to.Id, sig); } catch (PosixException) { }
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, PassOn);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, PassOn);
        using var hangUp = PosixSignalRegistration.Create(PosixSignal.SIGHUP, PassOn);
        using var started = Process.Start(start)!;
        lock (gate)
        {
            child = started;
            if (early is { } sig) Send(started, sig);
        }
        started.WaitForExit();
        return started.ExitCode;
    }
}

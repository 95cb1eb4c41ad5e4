using System.Diagnostics;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Workbook;

/// <summary>
/// The workbook forks (lessons 06, 08, the stress command), which is only safe with .NET's W^X mode off
/// (see <see cref="Fork.CodeIsSharedAcrossFork"/>). The variable must be set before the runtime starts, so the
/// CLI starts itself again with it when it is missing, passing signals on and returning the child's exit code.
/// The "run" command also starts with dynamic PGO off (<see cref="TieredPgoVariable"/>).
/// </summary>
static class WriteXorExecute
{
    /// <summary>
    /// Dynamic PGO first runs hot methods in instrumented code before optimizing them; the runner compiles new code in
    /// every cell, and with it off all ten notebooks ran in 25 s instead of 29 s (two runs each, same machine and minute).
    /// </summary>
    public const string TieredPgoVariable = "DOTNET_TieredPGO";

    public static bool NeedsRestart(string[] args) =>
        Fork.CodeIsSharedAcrossFork || (IsRun(args) && Environment.GetEnvironmentVariable(TieredPgoVariable) is null);

    static bool IsRun(string[] args) => args.Length > 0 && args[0] == "run";

    public static int RestartWithItOff(string[] args)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the running program's path");
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") // started as `dotnet Workbook.dll`
            start.ArgumentList.Add(typeof(WriteXorExecute).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[Fork.WriteXorExecuteVariable] = "0";
        if (IsRun(args) && Environment.GetEnvironmentVariable(TieredPgoVariable) is null)
            start.Environment[TieredPgoVariable] = "0";

        Process? child = null;
        // Pass SIGTERM and SIGINT on (a Ctrl+C that also reached the child directly arrives twice: harmless).
        void PassOn(PosixSignalContext ctx)
        {
            ctx.Cancel = true;
            if (child is not null)
                try { Signals.Kill(child.Id, ctx.Signal == PosixSignal.SIGINT ? Signal.SIGINT : Signal.SIGTERM); } catch (PosixException) { }
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, PassOn);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, PassOn);
        using var started = child = Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }
}

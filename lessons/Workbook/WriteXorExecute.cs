using System.Diagnostics;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Workbook;

/// <summary>
/// The workbook forks (lessons 06, 08, the stress command), which is only safe with .NET's W^X mode off
/// (see <see cref="Fork.CodeIsSharedAcrossFork"/>). The variable must be set before the runtime starts, so the
/// CLI starts itself again with it when it is missing, passing signals on and returning the child's exit code.
/// </summary>
static class WriteXorExecute
{
    public static bool NeedsRestart => Fork.CodeIsSharedAcrossFork;

    public static int RestartWithItOff(string[] args)
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the running program's path");
        var start = new ProcessStartInfo(host) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") // started as `dotnet Workbook.dll`
            start.ArgumentList.Add(typeof(WriteXorExecute).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[Fork.WriteXorExecuteVariable] = "0";

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

using System.Diagnostics;

namespace Lessons.L09_PosixShm;

/// <summary>
/// A <c>workbook shm-producer --hold SECONDS</c> running beside the notebook: its pid, whether it still runs, and
/// its last line of output once it ended. Dispose stops it if it still runs and always reaps it. (A notebook cell
/// that used the <see cref="Process"/> object itself would make the kernel's compiler bind types of
/// System.Diagnostics.Process and System.ComponentModel.Primitives, assemblies the cells do not reference
/// themselves: it resolves them through this library's references and warns CS1701 when their versions differ.)
/// </summary>
public sealed class HeldProducer : IDisposable
{
    readonly Process process;
    string? output;

    HeldProducer(Process process) => this.process = process;

    /// <summary>Starts the producer; it writes the message, then waits up to <paramref name="holdSeconds"/> for a consumer to unlink the name.</summary>
    public static HeldProducer Start(string name, string message, int holdSeconds) =>
        new(WorkbookCli.Start(["shm-producer", "--name", name, "--message", message, "--hold", $"{holdSeconds}"]));

    public int Pid => process.Id;

    public bool Running => !process.HasExited;

    /// <summary>Waits for the exit: true when the producer ended within <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout) => process.WaitForExit(timeout);

    /// <summary>The producer's last line of output (after it ended; empty while it runs).</summary>
    public string LastLine
    {
        get
        {
            if (!process.HasExited) return "";
            output ??= process.StandardOutput.ReadToEnd();
            return output.TrimEnd().Split('\n').Last();
        }
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit();
        }
        catch (InvalidOperationException) { }
        process.Dispose();
    }

    public override string ToString() => $"shm-producer pid {Pid} ({(Running ? "running" : $"exited with {process.ExitCode}")})";
}

using System.Diagnostics;

namespace Lessons;

/// <summary>Finding and running the tools the lessons compile and run the course's C programs with (gcc, valgrind, strace).</summary>
public static class CPrograms
{
    /// <summary>The first file named <paramref name="tool"/> in a folder of PATH, or null.</summary>
    public static string? FindTool(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);

    /// <summary>Runs <paramref name="file"/> to its end; killed (and a TimeoutException) after <paramref name="timeout"/>.</summary>
    public static (int Code, string Stdout, string Stderr) Exec(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var p = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{Path.GetFileName(file)} did not finish within {timeout.TotalSeconds:0} s; it was killed");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

using System.Diagnostics;
using Lessons.Posix;

namespace Lessons;

/// <summary>What a finished workbook command printed and how it exited.</summary>
public sealed record CliRun(IReadOnlyList<string> Arguments, int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() =>
        $"$ workbook {string.Join(' ', Arguments.Select(a => a.Contains(' ') ? $"\"{a}\"" : a))}\n" +
        (Stdout.Length > 0 ? Stdout.TrimEnd() + "\n" : "") +
        (Stderr.Length > 0 ? "stderr: " + Stderr.TrimEnd().Replace("\n", "\nstderr: ") + "\n" : "") +
        $"exit code {ExitCode}";
}

/// <summary>
/// Runs the workbook CLI (<c>dotnet Workbook.dll ARGS</c>) as a child process, for lessons whose experiment needs a
/// fresh process (03's break, 09's producer and consumer, 10's up-time server). The child starts with W^X off, so the
/// CLI does not restart itself and the process started is the command itself.
/// </summary>
public static class WorkbookCli
{
    /// <summary>The environment variable naming the CLI's Workbook.dll: the runner sets it for the notebooks it runs,
    /// the test projects for their tests, and child processes inherit it.</summary>
    public const string LocationVariable = "WORKBOOK_CLI";

    /// <summary>
    /// The CLI's Workbook.dll: <see cref="LocationVariable"/> when it is set, else the newest build of any configuration
    /// (Debug, Release, …) next to this library in the repository (lessons/Workbook/bin/CONFIGURATION/net10.0/).
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither names a built CLI (the message says how to build it).</exception>
    public static string Location
    {
        get
        {
            string? named = Environment.GetEnvironmentVariable(LocationVariable);
            if (!string.IsNullOrEmpty(named))
                return File.Exists(named) ? Path.GetFullPath(named)
                    : throw new FileNotFoundException($"{LocationVariable} names {named}, which does not exist: build the workbook (`dotnet build lessons/Workbook`) or unset it", named);
            string library = Path.GetDirectoryName(typeof(WorkbookCli).Assembly.Location) ?? ".";
            return FindBuilt(library) ?? throw new FileNotFoundException(
                $"the workbook CLI is not built under {BinFolder(library)}: run `dotnet build lessons/Workbook` in the repository (any configuration)",
                BinFolder(library));
        }
    }

    /// <summary>
    /// The newest lessons/Workbook/bin/CONFIGURATION/net10.0/Workbook.dll (with its runtimeconfig) beside the library
    /// folder <paramref name="libraryFolder"/> (lessons/Lessons/bin), or null when none is built.
    /// </summary>
    public static string? FindBuilt(string libraryFolder)
    {
        string bin = BinFolder(libraryFolder);
        if (!Directory.Exists(bin)) return null;
        return Directory.EnumerateDirectories(bin)
            .Select(config => new FileInfo(Path.Combine(config, "net10.0", "Workbook.dll")))
            .Where(f => f.Exists && File.Exists(Path.ChangeExtension(f.FullName, ".runtimeconfig.json")))
            .OrderByDescending(f => f.LastWriteTimeUtc)
            .FirstOrDefault()?.FullName;
    }

    static string BinFolder(string libraryFolder) => Path.GetFullPath(Path.Combine(libraryFolder, "..", "..", "Workbook", "bin"));

    /// <summary>How to start <c>workbook ARGS</c> with stdout and stderr redirected (and <paramref name="environment"/> added to its environment).</summary>
    /// <exception cref="FileNotFoundException">The workbook is not built (the message says how to build it).</exception>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments, string? workbookDll = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        string dll = Path.GetFullPath(workbookDll ?? Location);
        if (!File.Exists(dll))
            throw new FileNotFoundException($"the workbook CLI is not built at {dll}: run `dotnet build lessons/Workbook` in the repository", dll);
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment[Fork.WriteXorExecuteVariable] = "0";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        start.ArgumentList.Add(dll);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        return start;
    }

    /// <summary>Starts <c>workbook ARGS</c>; the caller reads its output, waits for it and disposes it.</summary>
    public static Process Start(IEnumerable<string> arguments, string? workbookDll = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = StartInfo(arguments, workbookDll, environment);
        return Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
    }

    /// <summary>Runs <c>workbook ARGS</c> to its end (at most <paramref name="timeout"/>, default 60 s; then it is killed).</summary>
    /// <exception cref="TimeoutException">The command did not end in time.</exception>
    public static CliRun Run(IReadOnlyList<string> arguments, string? workbookDll = null, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        using var child = Start(arguments, workbookDll, environment);
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
            throw new TimeoutException($"workbook {string.Join(' ', arguments)} did not finish in {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:0.#} s; it was killed");
        }
        return new CliRun(arguments, child.ExitCode, stdout.Result, stderr.Result);
    }

    // The dotnet host that runs this process, else the one in DOTNET_ROOT, else the one on PATH.
    static string DotnetHost()
    {
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (root is not null && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        return "dotnet";
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;

// The notebook runner redirects Console and changes the current directory, which belong to the process.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Workbook.Tests;

/// <summary>A temporary folder, deleted on Dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("workbook-tests-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

internal static class TestSupport
{
    public static string TestData(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    public static List<JsonObject> CodeCells(JsonObject notebook) =>
        notebook["cells"]!.AsArray().OfType<JsonObject>().Where(cell => (string?)cell["cell_type"] == "code").ToList();

    public static List<JsonObject> Outputs(JsonObject cell) => cell["outputs"]!.AsArray().OfType<JsonObject>().ToList();

    public static (int ExitCode, string Stdout, string Stderr) RunProcess(
        string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    const string Python = "/usr/bin/python3";

    /// <summary>Why notebooks cannot be validated here (naming the set-up script), or null when they can.</summary>
    public static string? NbformatMissingReason { get; } = FindNbformatMissingReason();

    static string? FindNbformatMissingReason()
    {
        const string install = "Debian's python3-nbformat is missing: run scripts/setup-test-tools.sh";
        if (!File.Exists(Python)) return install;
        using var p = Process.Start(new ProcessStartInfo(Python, ["-c", "import nbformat"]) { RedirectStandardError = true })!;
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? null : install;
    }

    /// <summary>Validates a notebook against the official nbformat schema with Debian's python3-nbformat.</summary>
    public static void AssertValidNbformat(string path)
    {
        if (NbformatMissingReason is { } missing)
            Assert.Fail(missing);
        var (exitCode, _, stderr) = RunProcess(Python,
            ["-c", "import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", path],
            Environment.CurrentDirectory, TimeSpan.FromMinutes(1));
        Assert.True(exitCode == 0, $"{path} is not a valid nbformat 4 notebook:\n{stderr}");
    }
}

/// <summary>
/// A fact that validates notebooks with python3-nbformat: skipped with a reason naming
/// scripts/setup-test-tools.sh where it is missing, except under CI (CI=true), where it must run.
/// </summary>
internal sealed class NbformatFactAttribute : FactAttribute
{
    public NbformatFactAttribute()
    {
        if (TestSupport.NbformatMissingReason is { } reason && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
            Skip = reason;
    }
}

/// <summary>The test settings: lesson code that starts the CLI as a child uses the build next to these tests.</summary>
internal static class WorkbookCliSetting
{
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Point() =>
        Environment.SetEnvironmentVariable(Lessons.WorkbookCli.LocationVariable, Path.Combine(AppContext.BaseDirectory, "Workbook.dll"));
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using TestTools;

// The notebook runner redirects Console and changes the current directory, which belong to the process.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Workbook.Tests;

/// <summary>A temporary folder, deleted on Dispose.</summary>
sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("workbook-tests-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

static class TestSupport
{
    public static string TestData(string name) => Path.Combine(AppContext.BaseDirectory, "TestData", name);

    public static List<JsonObject> CodeCells(JsonObject notebook) =>
        notebook["cells"]!.AsArray().OfType<JsonObject>().Where(cell => (string?)cell["cell_type"] == "code").ToList();

    public static List<JsonObject> Outputs(JsonObject cell) => cell["outputs"]!.AsArray().OfType<JsonObject>().ToList();

    /// <summary>What a code cell printed: its stream outputs' text (a string or a list of lines in nbformat).</summary>
    public static string Printed(JsonObject cell) =>
        string.Concat(Outputs(cell).Where(o => (string?)o["output_type"] == "stream")
            .Select(o => o["text"] is JsonArray lines ? string.Concat(lines.Select(l => (string?)l)) : (string?)o["text"] ?? ""));

    /// <summary>Runs a process to its end, with this process's environment plus <paramref name="environment"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunProcess(
        string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            start.Environment[name] = value;
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

    /// <summary>Validates a notebook against the official nbformat schema with Debian's python3-nbformat.</summary>
    public static void AssertValidNbformat(string path)
    {
        TestTool.Require(Tool.Nbformat);
        var (exitCode, _, stderr) = RunProcess(TestTool.Python,
            ["-c", "import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", path],
            Environment.CurrentDirectory, TimeSpan.FromMinutes(1));
        Assert.True(exitCode == 0, $"{path} is not a valid nbformat 4 notebook:\n{stderr}");
    }
}

/// <summary>The test settings: lesson code that starts the CLI as a child uses the build next to these tests.</summary>
static class WorkbookCliSetting
{
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Point() =>
        Environment.SetEnvironmentVariable(Lessons.WorkbookCli.LocationVariable, Path.Combine(AppContext.BaseDirectory, "Workbook.dll"));
}

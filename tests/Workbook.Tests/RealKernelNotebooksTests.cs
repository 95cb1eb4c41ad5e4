using System.Diagnostics;
using System.Text.Json.Nodes;
using TestTools;
using Workbook.Notebooks;
using Xunit.Abstractions;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>
/// The notebooks' own kernel, as students get it: the kernel spec `kernel install` writes (<see cref="Kernel.KernelSpec"/>),
/// which starts the .NET Interactive tool pinned in the repository's .config/dotnet-tools.json, run by Jupyter's nbclient
/// through Debian's jupyter-nbconvert. Nothing is written outside the caller's temporary folder (but NuGet's package
/// cache): every Jupyter folder points into it.
/// </summary>
static class RealKernel
{
    public static string Version => Kernel.KernelSpec.ToolVersion;

    public const int CellTimeoutSeconds = 300;

    // Notebooks executed at once, each by its own nbconvert and kernel: measured here (2 cores, other builds
    // running) at about 120 s one after another, 50-100 s three at a time.
    public const int ParallelNotebooks = 3;

    static readonly TimeSpan NotebookTimeout = TimeSpan.FromMinutes(20);

    /// <summary>`dotnet tool restore` in the repository: the pinned tool the spec starts (seconds from NuGet's cache).</summary>
    public static void Restore()
    {
        var (exitCode, stdout, stderr) = RunProcess("dotnet", ["tool", "restore"], TestTool.RepoRoot, TimeSpan.FromMinutes(10));
        Assert.True(exitCode == 0, $"dotnet tool restore exited with {exitCode}\n{stdout}\n{stderr}");
    }

    /// <summary>How one notebook's nbconvert went: the executed copy (null when nbconvert wrote none) and what it said.</summary>
    public sealed record Run(string Notebook, string? Executed, int ExitCode, string Stderr, TimeSpan Elapsed, IReadOnlyList<string> Leftovers);

    /// <summary>
    /// Executes <paramref name="notebooks"/> (file names in <paramref name="folder"/>, which is the kernels' current
    /// directory, inside the repository so that `dotnet tool run` finds the pinned tool) with nbconvert and the workbook's
    /// kernel spec, writing the executed copies
    /// and all Jupyter state under <paramref name="temp"/>. Errors are kept in the copies (--allow-errors), for the
    /// caller to judge.
    /// </summary>
    public static IReadOnlyList<Run> Execute(string folder, IReadOnlyList<string> notebooks, string temp, int parallel)
    {
        var environment = new Dictionary<string, string?>
        {
            ["JUPYTER_DATA_DIR"] = Directory.CreateDirectory(Path.Combine(temp, "data")).FullName,
            ["JUPYTER_CONFIG_DIR"] = Directory.CreateDirectory(Path.Combine(temp, "config")).FullName,
            ["IPYTHONDIR"] = Directory.CreateDirectory(Path.Combine(temp, "ipython")).FullName,
            // Unset, so that the test shows the spec's own env turning W^X off for the lessons that fork.
            ["DOTNET_EnableWriteXorExecute"] = null,
            // The lessons that start the workbook CLI use this build of it (the module initializer sets it here).
            [Lessons.WorkbookCli.LocationVariable] = Environment.GetEnvironmentVariable(Lessons.WorkbookCli.LocationVariable),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT"] = "1",
        };

        var spec = Kernel.KernelSpec.Json();
        Assert.Equal("0", (string?)spec["env"]?["DOTNET_EnableWriteXorExecute"]);

        // Each kernel also serves HTTP on the first free port of its --http-port-range, and two starting at once can
        // both pick the same one (the loser dies: "address already in use"). So each notebook's kernel gets its own
        // range, in its own kernel spec, from a base away from the default range other kernels here use.
        int portBase = 10_000 + (Random.Shared.Next(1000) * 20);
        string output = Directory.CreateDirectory(Path.Combine(temp, "executed")).FullName;
        var runs = new Run[notebooks.Count];
        Parallel.For(0, notebooks.Count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, i =>
        {
            Run run = ExecuteOne(folder, notebooks[i], output, spec, Path.Combine(temp, "jupyter", $"{i}"), portBase + (10 * i), environment);
            if (run.Executed is null && run.Stderr.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
                run = ExecuteOne(folder, notebooks[i], output, spec, Path.Combine(temp, "jupyter", $"{i}-again"), portBase + 10_000 + (10 * i), environment);
            runs[i] = run;
        });
        return runs;
    }

    static Run ExecuteOne(string folder, string notebook, string output, JsonObject spec, string jupyterPath, int port,
        Dictionary<string, string?> environment)
    {
        var kernel = spec.DeepClone().AsObject();
        var argv = kernel["argv"]!.AsArray();
        int range = argv.Select(a => (string?)a).ToList().IndexOf("--http-port-range");
        if (range >= 0 && range + 1 < argv.Count)
            argv[range + 1] = $"{port}-{port + 9}";
        string kernelFolder = Directory.CreateDirectory(Path.Combine(jupyterPath, "kernels", NotebookFile.KernelName)).FullName;
        File.WriteAllText(Path.Combine(kernelFolder, "kernel.json"), kernel.ToJsonString());

        // Its own runtime folder (connection files), by which its kernel is found if it outlives nbconvert.
        string runtime = Directory.CreateDirectory(Path.Combine(jupyterPath, "runtime")).FullName;
        var stopwatch = Stopwatch.StartNew();
        var (exitCode, _, stderr) = RunProcess(TestTool.NbconvertPath,
            ["--to", "notebook", "--execute", "--allow-errors", $"--ExecutePreprocessor.timeout={CellTimeoutSeconds}",
             "--output-dir", output, notebook],
            folder, NotebookTimeout,
            new Dictionary<string, string?>(environment) { ["JUPYTER_PATH"] = jupyterPath, ["JUPYTER_RUNTIME_DIR"] = runtime });
        stopwatch.Stop();
        string executed = Path.Combine(output, notebook);
        return new Run(notebook, File.Exists(executed) ? executed : null, exitCode, stderr, stopwatch.Elapsed,
            EndLeftoverKernels(runtime, notebook));
    }

    /// <summary>
    /// Kernels of this notebook still running after its nbconvert ended (their command line names a connection file in
    /// <paramref name="runtime"/>, this notebook's own; nbclient should have shut them down): given a few seconds,
    /// then killed. Returns one line for each that had to be killed.
    /// </summary>
    static List<string> EndLeftoverKernels(string runtime, string notebook)
    {
        var killed = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var left = KernelProcesses(runtime);
            if (left.Count == 0)
                return killed;
            if (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
                continue;
            }
            foreach (var (pid, commandLine) in left)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    killed.Add($"{notebook}: kernel {pid} still running 10 s after nbconvert ended, killed: {commandLine}");
                }
                catch (ArgumentException)
                {
                    // it ended meanwhile
                }
            }
            return killed;
        }
    }

    static List<(int Pid, string CommandLine)> KernelProcesses(string runtime)
    {
        var found = new List<(int, string)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out int pid) || pid == Environment.ProcessId)
                continue;
            string commandLine;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Trim();
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            if (commandLine.Contains(runtime + "/", StringComparison.Ordinal))
                found.Add((pid, commandLine));
        }
        return found;
    }
}

public class RealKernelNotebooksTests(ITestOutputHelper output)
{
    [RequiresTool(Tool.Jupyter)]
    public void Every_notebook_runs_in_the_real_kernel()
    {
        string folder = Path.Combine(TestTool.RepoRoot, "notebooks");
        var notebooks = Directory.GetFiles(folder, "*.ipynb").Select(path => Path.GetFileName(path)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(notebooks);
        using var temp = new TempFolder();
        var stopwatch = Stopwatch.StartNew();
        RealKernel.Restore();
        output.WriteLine($"dotnet tool restore (.NET Interactive {RealKernel.Version}): {stopwatch.Elapsed.TotalSeconds:F0} s");
        stopwatch.Restart();
        var runs = RealKernel.Execute(folder, notebooks, temp.File("all"), RealKernel.ParallelNotebooks).ToList();
        output.WriteLine($"{runs.Count} notebooks in .NET Interactive {RealKernel.Version}, {RealKernel.ParallelNotebooks} at a time: {stopwatch.Elapsed.TotalSeconds:F0} s");
        foreach (var run in runs)
            output.WriteLine($"  {run.Notebook}  {run.Elapsed.TotalSeconds:F0} s");

        // Some claims compare timings, which the other kernels running beside can upset: a notebook that ran without
        // errors and whose only problem is a claim that said NO runs once more, alone; that run is the one judged.
        var disputed = runs.Where(run => run.Executed is not null && run.Leftovers.Count == 0
            && NotebookChecks.ErrorProblems(run.Executed).Count == 0 && NotebookChecks.ClaimProblems(run.Executed).Count > 0).ToList();
        if (disputed.Count > 0)
        {
            foreach (var run in disputed)
                output.WriteLine($"  {run.Notebook} again, alone, for: {string.Join("; ", NotebookChecks.ClaimProblems(run.Executed!))}");
            var again = RealKernel.Execute(folder, [.. disputed.Select(run => run.Notebook)], temp.File("again"), parallel: 1);
            foreach (var run in again)
                runs[runs.FindIndex(first => first.Notebook == run.Notebook)] = run;
            output.WriteLine($"notebooks in all: {stopwatch.Elapsed.TotalSeconds:F0} s");
        }

        var problems = new List<string>();
        foreach (var run in runs)
        {
            problems.AddRange(run.Leftovers);
            if (run.Executed is null)
            {
                var tail = run.Stderr.Split('\n').Where(line => line.Trim().Length > 0).TakeLast(15);
                problems.Add($"{run.Notebook}: not executed (jupyter-nbconvert exited with {run.ExitCode}):\n    {string.Join("\n    ", tail)}");
                continue;
            }
            problems.AddRange(NotebookChecks.ErrorProblems(run.Executed));
            problems.AddRange(NotebookChecks.ClaimProblems(run.Executed));
            if (!Printed(CodeCells(NotebookFile.Load(run.Executed))[^1]).Contains("yes  the solutions in lessons/Exercises pass lesson", StringComparison.Ordinal))
                problems.Add($"{run.Notebook}: its last cell (the exercise check) did not show the solutions passing");
        }
        Assert.True(problems.Count == 0, $"in the real kernel (.NET Interactive {RealKernel.Version}):\n{string.Join("\n", problems)}");
    }

    [Fact]
    public void An_error_outside_a_raises_exception_cell_and_a_NO_claim_are_problems()
    {
        using var temp = new TempFolder();
        static JsonObject Error(string name, string value) =>
            new() { ["output_type"] = "error", ["ename"] = name, ["evalue"] = value, ["traceback"] = new JsonArray() };
        static JsonObject Stream(string name, string text) => new() { ["output_type"] = "stream", ["name"] = name, ["text"] = text };
        var thrown = NotebookFile.CodeCell("throw new InvalidOperationException(\"boom\");");
        thrown["outputs"] = new JsonArray(Error("System.InvalidOperationException", "boom\n   at Submission#1.<<Initialize>>d__0.MoveNext()"));
        var expected = NotebookFile.CodeCell("int x = \"no\";", NotebookRunner.RaisesExceptionTag);
        expected["outputs"] = new JsonArray(Stream("stderr", "(1,9): error CS0029\n"), Error("Error", "compilation error"));
        var quiet = NotebookFile.CodeCell("1", NotebookRunner.RaisesExceptionTag);
        quiet["outputs"] = new JsonArray();
        var compile = NotebookFile.CodeCell("int y = \"no\";");
        compile["outputs"] = new JsonArray(Stream("stderr", "\n(1,9): error CS0029: Cannot convert\n"), Error("Error", "compilation error"));
        var claim = NotebookFile.CodeCell("Console.WriteLine(ok ? \"yes\" : \"NO \");");
        claim["outputs"] = new JsonArray(Stream("stdout", "1 + 1 = 3\nyes  one holds\nNO   two does not\n"));
        var sequence = NotebookFile.CodeCell("new[] { (\"three\", ok) }.Select(c => $\"{(c.Item2 ? \"yes\" : \"NO \")}  {c.Item1}\")");
        sequence["outputs"] = new JsonArray(new JsonObject
        {
            ["output_type"] = "execute_result",
            ["execution_count"] = 1,
            ["metadata"] = new JsonObject(),
            ["data"] = new JsonObject
            {
                ["text/html"] = "<div class=\"dni-plaintext\"><pre>[ yes  a, b &amp; c, NO   three&#39;s, yes  four ]</pre></div><style>\r\n.x { }\r\n</style>",
            },
        });
        string path = temp.File("broken.ipynb");
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.MarkdownCell("# t"), thrown, expected, quiet, compile, claim, sequence), path);

        Assert.Equal(
            [
                "broken.ipynb cells[1]: System.InvalidOperationException: boom",
                "broken.ipynb cells[3]: tagged raises-exception but raised nothing",
                "broken.ipynb cells[4]: Error: compilation error (stderr: (1,9): error CS0029: Cannot convert)",
            ],
            NotebookChecks.ErrorProblems(path));
        Assert.Equal(["broken.ipynb cells[5]: NO   two does not (the cell also printed: 1 + 1 = 3)", "broken.ipynb cells[6]: NO   three's"], NotebookChecks.ClaimProblems(path));
    }
}

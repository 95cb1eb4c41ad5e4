using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using Chart = Plotly.NET.CSharp.Chart;

namespace Workbook.Notebooks;

/// <summary>The "run" command: runs notebooks and writes their executed copies.</summary>
static class RunCommand
{
    const string Usage = """
        usage: workbook run [PATH...] [--out DIR] [--timeout SECONDS]
          PATH       a notebook, or a folder whose *.ipynb run in name order (default: notebooks/ of the repository)
          --out      where the executed copies go (default: executed/ at the repository root)
          --timeout  how long one cell may run, in seconds (default: 120)
        Each notebook runs in a process of its own, its C# cells top to bottom, and stops at its first failing
        cell, like "run all" in .NET Interactive; cells tagged raises-exception must fail. A cell that ends the
        process, or does not end, fails its notebook and the next one still runs; nothing a notebook started
        outlives it. Messages number code cells from 1, as their execution counts. A cell keeps at most 1 Mi
        characters of output. Source notebooks are never modified.
        Exit code: 0 no errors, 1 a cell failed or printed a false claim (a line starting "NO "), 2 usage error.

        """;

    public static int Execute(string[] args) => Execute(args, Console.Out, Console.Error);

    internal static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (ParseOptions(args, stdout, stderr, out var exit) is not { } options) return exit;
        var root = Repository.FindRoot();
        var paths = options.Paths;
        if (paths.Count == 0)
        {
            if (root is null)
                return UsageError(stderr, $"no PATH given and no {Repository.SolutionFile} in {Environment.CurrentDirectory} or above: "
                                          + "run from the repository, or name the notebooks");
            paths.Add(Path.Combine(root, "notebooks"));
        }
        var outDir = Path.GetFullPath(options.OutDir ?? Path.Combine(root ?? Environment.CurrentDirectory, "executed"));
        if (options.Report is { } report) // the process of one notebook (NotebookProcess)
            return paths.Count == 1 ? NotebookProcess.RunAsChild(paths[0], outDir, options.Timeout, report)
                : UsageError(stderr, $"{NotebookProcess.ReportOption} runs one notebook");
        if (FindNotebooks(paths, stderr, out exit) is not { } notebooks) return exit;
        return RunAll(notebooks, outDir, options.Timeout, stdout, stderr);
    }

    /// <summary>The PATHs and options given (PATHs empty when none was).</summary>
    sealed record Options(List<string> Paths, string? OutDir, TimeSpan Timeout, string? Report);

    /// <summary>The options, or null with the exit code when the arguments end the command (--help, a usage error).</summary>
    static Options? ParseOptions(string[] args, TextWriter stdout, TextWriter stderr, out int exit)
    {
        var paths = new List<string>();
        string? outDir = null;
        string? report = null;
        var timeout = NotebookRunner.DefaultCellTimeout;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.Write(Usage);
                    exit = 0;
                    return null;
                case "--out" when i + 1 < args.Length:
                    outDir = args[++i];
                    break;
                case NotebookProcess.ReportOption when i + 1 < args.Length: // not in the usage: the runner's own
                    report = args[++i];
                    break;
                case "--timeout" when i + 1 < args.Length:
                    if (!double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
                    {
                        exit = UsageError(stderr, $"--timeout needs a positive number of seconds, not '{args[i]}'");
                        return null;
                    }
                    timeout = TimeSpan.FromSeconds(seconds);
                    break;
                case "--out" or "--timeout":
                    exit = UsageError(stderr, $"{args[i]} needs a value");
                    return null;
                case var option when option.StartsWith('-'):
                    exit = UsageError(stderr, $"unknown option '{option}'");
                    return null;
                default:
                    paths.Add(args[i]);
                    break;
            }
        }
        exit = 0;
        return new Options(paths, outDir, timeout, report);
    }

    /// <summary>The notebooks the paths name (a folder's in name order), or null with the exit code when a path names nothing.</summary>
    static List<string>? FindNotebooks(List<string> paths, TextWriter stderr, out int exit)
    {
        exit = 0;
        var notebooks = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                notebooks.AddRange(Directory.GetFiles(path, "*.ipynb").Order(StringComparer.Ordinal));
            else if (File.Exists(path))
                notebooks.Add(path);
            else
            {
                exit = UsageError(stderr, $"no notebook or folder at '{path}'");
                return null;
            }
        }
        if (notebooks.Count == 0)
            stderr.WriteLine($"no notebooks (*.ipynb) in {string.Join(", ", paths)}");
        return notebooks;
    }

    /// <summary>Runs the notebooks in turn, each in a process of its own, and prints the totals; the exit code.</summary>
    static int RunAll(List<string> notebooks, string outDir, TimeSpan timeout, TextWriter stdout, TextWriter stderr)
    {
        var (cells, errors, elapsed) = (0, 0, TimeSpan.Zero);
        using var supervisor = new NotebookProcess.Supervisor();
        foreach (var notebook in notebooks)
        {
            var name = Path.GetFileName(notebook);
            if (supervisor.StoppedBy is { } signal)
            {
                stdout.WriteLine($"{name}  not run");
                stderr.WriteLine($"{name}: not run: the run was stopped by {signal}");
                errors++;
                continue;
            }
            var outcome = NotebookProcess.Run(notebook, outDir, timeout, stdout, stderr, supervisor);
            (cells, errors, elapsed) = (cells + outcome.CellsRun, errors + outcome.Errors, elapsed + outcome.Elapsed);
        }
        stdout.WriteLine($"total  {Count(notebooks.Count, "notebook")}  {Count(cells, "cell")}  {Count(errors, "error")}  {elapsed.TotalSeconds:0.0} s");
        return errors == 0 ? 0 : 1;
    }

    /// <summary>
    /// Runs one notebook in this process, saves its executed copy and reports on it; its errors count the claim problems
    /// (a printed "NO" claim is an error: the lesson says something this machine's run contradicts).
    /// </summary>
    internal static NotebookOutcome RunOne(string notebook, string outDir, TimeSpan timeout, TextWriter stdout, TextWriter stderr,
        Action<int, JsonObject>? beforeCell = null)
    {
        var name = Path.GetFileName(notebook);
        NotebookRun run;
        WarmUp();
        try
        {
            run = NotebookRunner.Run(notebook, timeout, beforeCell);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or UnauthorizedAccessException)
        {
            stdout.WriteLine($"{name}  not run");
            stderr.WriteLine($"{name}: cannot read the notebook: {e.Message}");
            return new NotebookOutcome(0, 1, TimeSpan.Zero);
        }
        var target = Path.Combine(outDir, name);
        NotebookFile.Save(run.Executed, target);

        var stopped = run.CellsNotRun > 0 ? $"  stopped at cell {run.CellsRun}, {Count(run.CellsNotRun, "cell")} not run" : "";
        var claims = run.CellsNotRun > 0 ? [] : NotebookClaims.Problems(run.Executed, name, c => $": cell {c.CodeCell}: false claim");
        string claimed = claims.Count > 0 ? $"  {Count(claims.Count, "false claim")}" : "";
        stdout.WriteLine($"{name}  {Count(run.CellsRun, "cell")}  {Count(run.Errors.Count, "error")}{claimed}  "
                         + $"{run.Elapsed.TotalSeconds:0.0} s{stopped}  -> {Shown(target)}");
        foreach (var warning in NotebookFile.CheckMetadata(run.Executed).Concat(run.Warnings))
            stderr.WriteLine($"{name}: warning: {warning}");
        foreach (var error in run.Errors)
            stderr.WriteLine($"{name}: {error}");
        foreach (var claim in claims)
            stderr.WriteLine(claim);
        return new NotebookOutcome(run.CellsRun, run.Errors.Count + claims.Count, run.Elapsed);
    }

    /// <summary>
    /// Compiles a script, formats two values and serializes a chart on another thread, so that the JIT compiles the
    /// C# compiler, the formatter and Plotly.NET on the second core while the first notebook's kernel starts (notebook
    /// 01 went from 5.6 s to 4.2 s). Nothing it does is seen by a notebook; a failure here changes nothing.
    /// </summary>
    static void WarmUp() => Task.Run(() =>
    {
        try
        {
            Formatter.ToDisplayString(42L, HtmlFormatter.MimeType);
            Formatter.ToDisplayString("warm", PlainTextFormatter.MimeType);
            var options = ScriptOptions.Default.AddReferences(typeof(Enumerable).Assembly).WithImports("System.Linq");
            CSharpScript.EvaluateAsync<int>("new[] { 1, 2 }.Select(x => x * 2).Sum()", options).Wait();
            GenericChart.toFigureJson(Chart.Line<int, int, string>(x: [1, 2], y: [1, 2]));
        }
        catch (Exception)
        {
            // Only the head start is lost: the notebooks compile what they need themselves.
        }
    });

    /// <summary>A path relative to the current directory when it is below it, else the full path.</summary>
    internal static string Shown(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    internal static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"run: {message}");
        stderr.Write(Usage);
        return 2;
    }
}

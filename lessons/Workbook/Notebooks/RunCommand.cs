using System.Globalization;
using System.Text.Json;

namespace Workbook.Notebooks;

/// <summary>The "run" command: runs notebooks and writes their executed copies.</summary>
internal static class RunCommand
{
    private const string Usage = """
        usage: workbook run [PATH...] [--out DIR] [--timeout SECONDS]
          PATH       a notebook, or a folder whose *.ipynb run in name order (default: notebooks/ of the repository)
          --out      where the executed copies go (default: executed/ at the repository root)
          --timeout  how long one cell may run, in seconds (default: 120)
        Each notebook runs its C# cells top to bottom and stops at its first failing cell, like "run all" in
        .NET Interactive; cells tagged raises-exception must fail. Messages number code cells from 1, as their
        execution counts. Source notebooks are never modified.
        Exit code: 0 no errors, 1 a cell failed, 2 usage error.

        """;

    public static int Execute(string[] args) => Execute(args, Console.Out, Console.Error);

    internal static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var paths = new List<string>();
        string? outDir = null;
        var timeout = NotebookRunner.DefaultCellTimeout;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    stdout.Write(Usage);
                    return 0;
                case "--out" when i + 1 < args.Length:
                    outDir = args[++i];
                    break;
                case "--timeout" when i + 1 < args.Length:
                    if (!double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
                        return UsageError(stderr, $"--timeout needs a positive number of seconds, not '{args[i]}'");
                    timeout = TimeSpan.FromSeconds(seconds);
                    break;
                case "--out" or "--timeout":
                    return UsageError(stderr, $"{args[i]} needs a value");
                case var option when option.StartsWith('-'):
                    return UsageError(stderr, $"unknown option '{option}'");
                default:
                    paths.Add(args[i]);
                    break;
            }
        }

        var root = Repository.FindRoot();
        if (paths.Count == 0)
        {
            if (root is null)
                return UsageError(stderr, $"no PATH given and no {Repository.SolutionFile} in {Environment.CurrentDirectory} or above: "
                                          + "run from the repository, or name the notebooks");
            paths.Add(Path.Combine(root, "notebooks"));
        }
        outDir = Path.GetFullPath(outDir ?? Path.Combine(root ?? Environment.CurrentDirectory, "executed"));

        var notebooks = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
                notebooks.AddRange(Directory.GetFiles(path, "*.ipynb").Order(StringComparer.Ordinal));
            else if (File.Exists(path))
                notebooks.Add(path);
            else
                return UsageError(stderr, $"no notebook or folder at '{path}'");
        }
        if (notebooks.Count == 0)
            stderr.WriteLine($"no notebooks (*.ipynb) in {string.Join(", ", paths)}");

        var (cells, errors, elapsed) = (0, 0, TimeSpan.Zero);
        string? hung = null;
        foreach (var notebook in notebooks)
        {
            var name = Path.GetFileName(notebook);
            if (hung is not null)
            {
                // The timed-out cell still runs and writes to the process's console: later notebooks would catch its output.
                stdout.WriteLine($"{name}  not run");
                stderr.WriteLine($"{name}: not run: a cell of {hung} timed out and is still running; run this notebook on its own");
                errors++;
                continue;
            }
            NotebookRun run;
            try
            {
                run = NotebookRunner.Run(notebook, timeout);
            }
            catch (Exception e) when (e is InvalidDataException or JsonException or IOException or UnauthorizedAccessException)
            {
                stdout.WriteLine($"{name}  not run");
                stderr.WriteLine($"{name}: cannot read the notebook: {e.Message}");
                errors++;
                continue;
            }
            var target = Path.Combine(outDir, name);
            NotebookFile.Save(run.Executed, target);
            (cells, errors, elapsed) = (cells + run.CellsRun, errors + run.Errors.Count, elapsed + run.Elapsed);

            var stopped = run.CellsNotRun > 0 ? $"  stopped at cell {run.CellsRun}, {Count(run.CellsNotRun, "cell")} not run" : "";
            stdout.WriteLine($"{name}  {Count(run.CellsRun, "cell")}  {Count(run.Errors.Count, "error")}  "
                             + $"{run.Elapsed.TotalSeconds:0.0} s{stopped}  -> {Shown(target)}");
            foreach (var warning in NotebookFile.CheckMetadata(run.Executed))
                stderr.WriteLine($"{name}: warning: {warning}");
            foreach (var error in run.Errors)
                stderr.WriteLine($"{name}: {error}");
            if (run.TimedOut)
                hung = name;
        }
        stdout.WriteLine($"total  {Count(notebooks.Count, "notebook")}  {Count(cells, "cell")}  {Count(errors, "error")}  {elapsed.TotalSeconds:0.0} s");
        return errors == 0 ? 0 : 1;
    }

    /// <summary>A path relative to the current directory when it is below it, else the full path.</summary>
    private static string Shown(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    private static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    private static int UsageError(TextWriter stderr, string message)
    {
        stderr.WriteLine($"run: {message}");
        stderr.Write(Usage);
        return 2;
    }
}

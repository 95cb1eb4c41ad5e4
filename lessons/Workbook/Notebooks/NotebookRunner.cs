using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;

namespace Workbook.Notebooks;

/// <summary>A cell that failed: its number (code cells counted from 1, i.e. its execution count) and one line saying why.</summary>
public sealed record CellError(int Cell, string Message, bool TimedOut = false)
{
    public override string ToString() => $"cell {Cell}: {Message}";
}

/// <summary>The outcome of running one notebook: the executed copy (not yet saved) and what went wrong.</summary>
public sealed record NotebookRun(
    string SourcePath, JsonObject Executed, int CellsRun, int CellsNotRun, IReadOnlyList<CellError> Errors, TimeSpan Elapsed,
    IReadOnlyList<string> Warnings)
{
    public bool Succeeded => Errors.Count == 0;
}

/// <summary>
/// Runs a notebook's C# cells top to bottom in one in-process .NET Interactive <see cref="CSharpKernel"/> (a fresh one per
/// notebook, with the kernel helpers such as display(...), as the editor's kernel has), and stops at the first failing
/// cell, as its "run all" does. A cell tagged "raises-exception" (the Jupyter/nbval convention) must fail, at run time or
/// compile time, and then the run goes on. The kernel's events become the cell's outputs in the order they happened.
/// </summary>
public static class NotebookRunner
{
    public static readonly TimeSpan DefaultCellTimeout = TimeSpan.FromSeconds(120);

    public const string RaisesExceptionTag = "raises-exception";

    // Console and the current directory belong to the process: one notebook at a time.
    static readonly Lock OneAtATime = new();

    /// <summary>What the kernel reported for one cell.</summary>
    sealed class CellEvents(int number)
    {
        public int Number { get; } = number;
        public CellOutputs Outputs { get; } = new();
        public CommandFailed? Failed { get; set; }
        public Exception? FormattingError { get; set; }
    }

    /// <summary>
    /// Runs the notebook at <paramref name="notebookPath"/>; the source file is only read. <paramref name="beforeCell"/>
    /// gets each code cell's number and the executed copy so far just before the cell runs.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a notebook.</exception>
    public static NotebookRun Run(string notebookPath, TimeSpan? cellTimeout = null, Action<int, JsonObject>? beforeCell = null)
    {
        var timeout = cellTimeout ?? DefaultCellTimeout;
        var path = Path.GetFullPath(notebookPath);
        var folder = Path.GetDirectoryName(path)!;
        var stopwatch = Stopwatch.StartNew();
        var executed = NotebookFile.Load(path);
        var codeCells = executed["cells"]!.AsArray().OfType<JsonObject>().Where(cell => (string?)cell["cell_type"] == "code").ToList();
        foreach (var cell in codeCells)
        {
            cell["execution_count"] = null;
            cell["outputs"] = new JsonArray();
        }

        var errors = new List<CellError>();
        var warnings = new List<string>();
        var cellsRun = 0;
        lock (OneAtATime)
        {
            // Console.Out and Console.Error stay the kernel's: it swaps in its own writers while any submission runs,
            // counting them, and a timed-out cell's still counts.
            var (stdin, directory) = (Console.In, Environment.CurrentDirectory);
            CSharpKernel? kernel = null;
            try
            {
                // Before the kernel's first submission: it resolves #r and relative paths from the directory it starts in.
                Directory.SetCurrentDirectory(folder);
                Console.SetIn(TextReader.Null); // a cell waiting for input would hang
                kernel = new CSharpKernel().UseKernelHelpers();
                CellEvents? current = null;
                using var subscription = kernel.KernelEvents.Subscribe(e => { if (Volatile.Read(ref current) is { } cell) Record(cell, e); });
                foreach (var cell in codeCells)
                {
                    var events = new CellEvents(++cellsRun);
                    beforeCell?.Invoke(events.Number, executed);
                    Volatile.Write(ref current, events);
                    var error = RunCell(kernel, cell, events, timeout, out var timedOut);
                    cell["execution_count"] = events.Number;
                    cell["outputs"] = events.Outputs.ToJson();
                    if (events.Outputs.Dropped > 0)
                        warnings.Add($"cell {events.Number}: output cut at {CellOutputs.MaxChars:N0} characters ({events.Outputs.Dropped:N0} not kept)");
                    if (error is not null)
                    {
                        errors.Add(new CellError(events.Number, error, timedOut));
                        if (timedOut)
                            kernel = null; // still busy with the cell: disposing it would wait for it
                        break;
                    }
                }
                Volatile.Write(ref current, null);
            }
            finally
            {
                kernel?.Dispose();
                kernel = null;
                // The next notebook starts from a small heap: fork copies the page tables of all that is resident (by
                // lesson 08 the runner held 600 MB instead of 360 MB, and its fork cells took 25% longer).
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                Console.SetIn(stdin);
                Directory.SetCurrentDirectory(directory);
            }
        }
        return new NotebookRun(path, executed, cellsRun, codeCells.Count - cellsRun, errors, stopwatch.Elapsed, warnings);
    }

    /// <summary>Runs one cell; returns the error that stops the notebook, if any.</summary>
    static string? RunCell(CSharpKernel kernel, JsonObject cell, CellEvents events, TimeSpan timeout, out bool timedOut)
    {
        timedOut = false;
        var outputs = events.Outputs;
        var number = events.Number;
        string Fail(string name, string message)
        {
            outputs.Add(ErrorOutput(name, $"cell {number}: {message}", [$"cell {number}: {message}"]));
            return message;
        }

        if (CellSource.CodeOf(cell, out var problem) is not { } code)
            return Fail("UnsupportedCell", problem);

        // On a worker thread, so that a cell that never returns can be given up on (it cannot be aborted).
        var run = Task.Run(() => kernel.SendAsync(new SubmitCode(code)));
        if (!run.Wait(timeout))
        {
            timedOut = true;
            return Fail("CellTimeout", $"did not finish within {timeout.TotalSeconds:0.###} s; the rest of the notebook was skipped "
                                       + "(a running cell cannot be stopped: it goes on until its notebook's process is stopped, right after)");
        }

        var expectsError = cell["metadata"]?["tags"] is JsonArray tags
                           && tags.Any(tag => tag is JsonValue v && v.TryGetValue<string>(out var s) && s == RaisesExceptionTag);
        if (events.Failed is { } failed)
        {
            if (failed.Exception is CodeSubmissionCompilationErrorException)
            {
                var lines = failed.Message.Split('\n').Select(line => line.TrimEnd('\r')).Where(line => line.Length > 0).ToArray();
                outputs.Add(ErrorOutput("CompilationError", string.Join('\n', lines), lines));
                return expectsError ? null : $"CompilationError: {lines.FirstOrDefault()}";
            }
            var (name, message, traceback) = failed.Exception is { } exception
                ? (exception.GetType().FullName ?? exception.GetType().Name, exception.Message, Traceback(exception))
                : ("CommandFailed", failed.Message, [failed.Message]);
            outputs.Add(ErrorOutput(name, message, traceback));
            return expectsError ? null : $"{name}: {message.Split('\n')[0]}";
        }
        if (events.FormattingError is { } formatting)
        {
            var name = formatting.GetType().FullName ?? formatting.GetType().Name;
            outputs.Add(ErrorOutput(name, formatting.Message, Traceback(formatting)));
            return expectsError ? null : $"{name}: {formatting.Message.Split('\n')[0]}";
        }
        return expectsError ? Fail("ExpectedExceptionNotRaised", $"marked {RaisesExceptionTag} but ran without error") : null;
    }

    /// <summary>Adds what a kernel event shows below the cell to its outputs.</summary>
    static void Record(CellEvents cell, KernelEvent e)
    {
        try
        {
            switch (e)
            {
                case StandardOutputValueProduced output:
                    cell.Outputs.Write("stdout", string.Concat(output.FormattedValues.Select(v => v.Value)));
                    break;
                case StandardErrorValueProduced output:
                    cell.Outputs.Write("stderr", string.Concat(output.FormattedValues.Select(v => v.Value)));
                    break;
                case ReturnValueProduced value:
                    cell.Outputs.Add(new JsonObject
                    {
                        ["data"] = DisplayFormatter.Bundle(value.FormattedValues, value.Value?.GetType()),
                        ["execution_count"] = cell.Number,
                        ["metadata"] = new JsonObject(),
                        ["output_type"] = "execute_result",
                    });
                    break;
                case DisplayEvent displayed: // display(...) and its updates
                    cell.Outputs.Add(new JsonObject
                    {
                        ["data"] = DisplayFormatter.Bundle(displayed.FormattedValues, displayed.Value?.GetType()),
                        ["metadata"] = new JsonObject(),
                        ["output_type"] = "display_data",
                    });
                    break;
                case CommandFailed failed when failed.Command is SubmitCode:
                    cell.Failed ??= failed;
                    break;
            }
        }
        catch (FormatException error)
        {
            cell.FormattingError ??= error;
        }
    }

    /// <summary>The exception's text without the scripting engine's and the kernel's frames, which follow the cell's.</summary>
    static List<string> Traceback(Exception exception)
    {
        var lines = exception.ToString().Split('\n').Select(line => line.TrimEnd('\r'))
            .TakeWhile(line => !line.Contains(" Microsoft.CodeAnalysis.Scripting.", StringComparison.Ordinal)
                               && !line.Contains(" Microsoft.DotNet.Interactive.", StringComparison.Ordinal))
            .ToList();
        if (lines is [.., "--- End of stack trace from previous location ---"])
            lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    static JsonObject ErrorOutput(string name, string value, IEnumerable<string> traceback) => new()
    {
        ["ename"] = name,
        ["evalue"] = value,
        ["output_type"] = "error",
        ["traceback"] = new JsonArray([.. traceback.Select(line => JsonValue.Create(line))]),
    };
}

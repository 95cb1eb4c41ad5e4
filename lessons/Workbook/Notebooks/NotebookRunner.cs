using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Scripting;

namespace Workbook.Notebooks;

/// <summary>A cell that failed: its number (code cells counted from 1, i.e. its execution count) and one line saying why.</summary>
public sealed record CellError(int Cell, string Message, bool TimedOut = false)
{
    public override string ToString() => $"cell {Cell}: {Message}";
}

/// <summary>The outcome of running one notebook: the executed copy (not yet saved) and what went wrong.</summary>
public sealed record NotebookRun(
    string SourcePath, JsonObject Executed, int CellsRun, int CellsNotRun, IReadOnlyList<CellError> Errors, TimeSpan Elapsed)
{
    public bool Succeeded => Errors.Count == 0;

    /// <summary>A cell overran its timeout and is still running in the background of this process.</summary>
    public bool TimedOut => Errors.Any(e => e.TimedOut);
}

/// <summary>
/// Runs a notebook's C# cells top to bottom in one Roslyn script state, as the .NET Interactive C# kernel does,
/// and stops at the first failing cell, as its "run all" does. A cell tagged "raises-exception" (the
/// Jupyter/nbval convention) must fail, at run time or compile time, and then the run goes on.
/// </summary>
public static class NotebookRunner
{
    public static readonly TimeSpan DefaultCellTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The usings every cell starts with.</summary>
    public static readonly ImmutableArray<string> DefaultImports =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Text", "System.Threading.Tasks",
    ];

    public const string RaisesExceptionTag = "raises-exception";

    // Console and the current directory belong to the process: one notebook at a time.
    static readonly Lock OneAtATime = new();

    // Cells compile against the whole shared framework the runner runs on, as in the kernel.
    static readonly Lazy<ImmutableArray<MetadataReference>> FrameworkReferences = new(() =>
    {
        var frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location);
        return [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(path => Path.GetDirectoryName(path) == frameworkDirectory)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))];
    });

    sealed record Outcome(ScriptState<object> State, Exception? Exception, ImmutableArray<Diagnostic> CompileErrors, JsonObject? Value);

    /// <summary>Runs the notebook at <paramref name="notebookPath"/>; the source file is only read.</summary>
    /// <exception cref="InvalidDataException">The file is not a notebook.</exception>
    public static NotebookRun Run(string notebookPath, TimeSpan? cellTimeout = null)
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
        var cellsRun = 0;
        lock (OneAtATime)
        {
            var (stdout, stderr, stdin, directory) = (Console.Out, Console.Error, Console.In, Environment.CurrentDirectory);
            try
            {
                Directory.SetCurrentDirectory(folder);
                Console.SetIn(TextReader.Null); // a cell waiting for input would hang
                var globals = new NotebookGlobals();
                var state = CSharpScript.Create<object>("", OptionsFor(folder), typeof(NotebookGlobals)).RunAsync(globals).GetAwaiter().GetResult();
                foreach (var cell in codeCells)
                {
                    var number = ++cellsRun;
                    var outputs = new CellOutputs();
                    globals.Outputs = outputs;
                    Console.SetOut(new CaptureWriter(outputs, "stdout"));
                    Console.SetError(new CaptureWriter(outputs, "stderr"));
                    var error = RunCell(cell, number, ref state, outputs, timeout, out var timedOut);
                    globals.Outputs = null;
                    Console.SetOut(stdout);
                    Console.SetError(stderr);
                    cell["execution_count"] = number;
                    cell["outputs"] = outputs.ToJson();
                    if (error is not null)
                    {
                        errors.Add(new CellError(number, error, timedOut));
                        break;
                    }
                }
            }
            finally
            {
                Console.SetOut(stdout);
                Console.SetError(stderr);
                Console.SetIn(stdin);
                Directory.SetCurrentDirectory(directory);
            }
        }
        return new NotebookRun(path, executed, cellsRun, codeCells.Count - cellsRun, errors, stopwatch.Elapsed);
    }

    /// <summary>Runs one cell into <paramref name="outputs"/>; returns the error that stops the notebook, if any.</summary>
    static string? RunCell(JsonObject cell, int number, ref ScriptState<object> state, CellOutputs outputs, TimeSpan timeout, out bool timedOut)
    {
        timedOut = false;
        string Fail(string name, string message)
        {
            outputs.Add(ErrorOutput(name, $"cell {number}: {message}", [$"cell {number}: {message}"]));
            return message;
        }

        if (CellSource.CodeOf(cell, out var problem) is not { } code)
            return Fail("UnsupportedCell", problem);

        // On a worker thread, so that a cell that never returns can be given up on (it cannot be aborted).
        var previous = state;
        var run = Task.Run(() => ExecuteAsync(previous, code));
        if (!run.Wait(timeout))
        {
            timedOut = true;
            return Fail("CellTimeout", $"did not finish within {timeout.TotalSeconds:0.###} s; the rest of the notebook was skipped "
                                       + "(a running cell cannot be stopped: it goes on in the background until the runner exits)");
        }

        var outcome = run.Result;
        state = outcome.State;
        var expectsError = cell["metadata"]?["tags"] is JsonArray tags
                           && tags.Any(tag => tag is JsonValue v && v.TryGetValue<string>(out var s) && s == RaisesExceptionTag);
        if (outcome.CompileErrors.Length > 0)
        {
            var lines = outcome.CompileErrors.Select(d => d.ToString()).ToArray();
            outputs.Add(ErrorOutput("CompilationError", string.Join('\n', lines), lines));
            return expectsError ? null : $"CompilationError: {lines[0]}";
        }
        if (outcome.Exception is { } exception)
        {
            var name = exception.GetType().FullName ?? exception.GetType().Name;
            outputs.Add(ErrorOutput(name, exception.Message, Traceback(exception)));
            return expectsError ? null : $"{name}: {exception.Message.Split('\n')[0]}";
        }
        if (outcome.Value is { } value)
            outputs.Add(new JsonObject { ["data"] = value, ["execution_count"] = number, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result" });
        return expectsError ? Fail("ExpectedExceptionNotRaised", $"marked {RaisesExceptionTag} but ran without error") : null;
    }

    static async Task<Outcome> ExecuteAsync(ScriptState<object> state, string code)
    {
        var script = state.Script.ContinueWith<object>(code);
        var compileErrors = script.Compile().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
        if (compileErrors.Length > 0)
            return new Outcome(state, null, compileErrors, null);
        var hasValue = EndsInValue(script.GetCompilation());
        var next = await script.RunFromAsync(state, catchException: _ => true);
        if (next.Exception is not null || !hasValue)
            return new Outcome(next, next.Exception, [], null);
        try
        {
            return new Outcome(next, null, [], DisplayFormatter.Format(next.ReturnValue));
        }
        catch (Exception e)
        {
            return new Outcome(next, e, [], null);
        }
    }

    /// <summary>Whether the cell ends in a non-void expression without a semicolon: its value is shown.</summary>
    static bool EndsInValue(Compilation compilation)
    {
        var tree = compilation.SyntaxTrees.Last();
        return tree.GetRoot() is CompilationUnitSyntax { Members: [.., GlobalStatementSyntax { Statement: ExpressionStatementSyntax statement }] }
               && statement.SemicolonToken.IsMissing
               && compilation.GetSemanticModel(tree).GetTypeInfo(statement.Expression).Type is { SpecialType: not SpecialType.System_Void };
    }

    static ScriptOptions OptionsFor(string folder) => ScriptOptions.Default
        .WithReferences(FrameworkReferences.Value)
        .AddReferences(typeof(NotebookGlobals).Assembly)
        .WithImports(DefaultImports)
        .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(folder))
        .WithSourceResolver(new SourceFileResolver([], folder))
        .WithAllowUnsafe(false);

    /// <summary>The exception's text without the scripting engine's own frames, which follow the cell's.</summary>
    static List<string> Traceback(Exception exception)
    {
        var lines = exception.ToString().Split('\n').Select(line => line.TrimEnd('\r'))
            .TakeWhile(line => !line.Contains(" Microsoft.CodeAnalysis.Scripting.", StringComparison.Ordinal))
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

using System.Text;
using Microsoft.VisualStudio.TestPlatform.ObjectModel;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Client;
using Microsoft.VisualStudio.TestPlatform.ObjectModel.Logging;

namespace Grading;

/// <summary>
/// VSTest logger "grade": collects the results of [Graded] tests and prints the grade table when the run completes
/// (nothing when the run has no graded test). With <c>--logger "grade;json=grades.json"</c> it also writes the
/// results as JSON, and with <c>summary=FILE</c> it appends them as markdown (a GitHub job summary,
/// <c>$GITHUB_STEP_SUMMARY</c>); a relative path is taken from the test results directory, as the trx logger does.
/// While the run goes on, the results so far are in the JSON path plus <see cref="PartialSuffix"/>, so that a run
/// killed at a time limit still tells what finished.
/// </summary>
[FriendlyName("grade")]
[ExtensionUri("logger://grade")]
public sealed class GradeLogger : ITestLoggerWithParameters
{
    /// <summary>Appended to the json path for the results so far (rewritten after each graded result).</summary>
    public const string PartialSuffix = ".partial";

    readonly List<GradedResult> results = [];
    readonly HashSet<string> sources = new(StringComparer.Ordinal);
    readonly Lock gate = new();
    string? jsonPath;
    string? summaryPath;

    public void Initialize(TestLoggerEvents events, string testRunDirectory) => Subscribe(events);

    public void Initialize(TestLoggerEvents events, Dictionary<string, string?> parameters)
    {
        parameters.TryGetValue(DefaultLoggerParameterNames.TestRunDirectory, out var runDirectory);
        string? PathOf(string name) =>
            parameters.FirstOrDefault(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value is { Length: > 0 } value
                ? Path.GetFullPath(value, runDirectory ?? Directory.GetCurrentDirectory())
                : null;
        jsonPath = PathOf("json");
        summaryPath = PathOf("summary");
        Subscribe(events);
    }

    void Subscribe(TestLoggerEvents events)
    {
        events.TestResult += OnTestResult;
        // Subscribing to the end only once the run has started puts this handler after the console logger's,
        // so the table follows the pass/fail summary. (Handlers run in subscription order, on one logger thread.)
        events.TestRunStart += (_, _) => events.TestRunComplete += OnTestRunComplete;
    }

    void OnTestResult(object? sender, TestResultEventArgs e)
    {
        var test = e.Result.TestCase;
        if (!GradedTraits.TryParse(test.Traits.Select(t => KeyValuePair.Create(t.Name, t.Value)), out var lesson, out var points, out var hidden))
            return;
        var outcome = e.Result.Outcome switch
        {
            TestOutcome.Passed => GradeOutcome.Passed,
            TestOutcome.Failed => GradeOutcome.Failed,
            TestOutcome.Skipped => GradeOutcome.Skipped,
            _ => GradeOutcome.NotRun,
        };
        var message = e.Result.ErrorMessage;
        if (string.IsNullOrEmpty(message) && outcome == GradeOutcome.Skipped)
            message = e.Result.Messages.FirstOrDefault()?.Text;
        lock (gate)
        {
            results.Add(new GradedResult(test.FullyQualifiedName, test.DisplayName, lesson, points, hidden, outcome, message));
            sources.Add(Path.GetFileNameWithoutExtension(test.Source));
            if (jsonPath is not null)
                WriteAtomically(jsonPath + PartialSuffix, new GradeReport(results).ToJson());
        }
    }

    /// <summary>Writes a temporary file and renames it, so that a reader (or a kill) never sees half a file.</summary>
    static void WriteAtomically(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }

    void OnTestRunComplete(object? sender, TestRunCompleteEventArgs e)
    {
        GradeReport report;
        string? title;
        lock (gate)
        {
            if (results.Count == 0)
                return;
            report = new GradeReport(results);
            title = sources.Count == 1 ? sources.Single() : null;
        }
        if (e.IsAborted || e.IsCanceled)
            title = $"{title ?? "tests"} (incomplete run: tests that did not report are missing)";
        if (jsonPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(jsonPath)!);
            File.WriteAllText(jsonPath, report.ToJson());
        }
        if (summaryPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(summaryPath)!);
            File.AppendAllText(summaryPath, report.ToMarkdown(title));
        }
        // One write(2) of the whole table, so that it stays in one piece next to other test projects' output
        // (Console.Out would split it into 256-character writes).
        Console.Out.Flush();
        using var stdout = Console.OpenStandardOutput();
        stdout.Write(Encoding.UTF8.GetBytes(Environment.NewLine + report.ToTable(title)));
    }
}

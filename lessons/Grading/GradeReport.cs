using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Grading;

public enum GradeOutcome { Passed, Failed, Skipped, NotRun }

/// <summary>
/// One result of a graded test as the runner reports it. <paramref name="Test"/> names the test method
/// (a theory reports one result per case, all with the same <paramref name="Test"/>); <paramref name="Case"/> names the case.
/// </summary>
public sealed record GradedResult(string Test, string Case, int Lesson, int Points, bool Hidden, GradeOutcome Outcome, string? Message = null);

/// <summary>A graded test method with its combined outcome; it earns its points only if it passed.</summary>
public sealed record GradedTest(string Name, int Lesson, int Points, bool Hidden, GradeOutcome Outcome, string? Message)
{
    public int Earned => Outcome == GradeOutcome.Passed ? Points : 0;
}

/// <summary>A line of the grade table: one lesson ("01") or the total ("Total").</summary>
public sealed record GradeLine(string Label, int Passed, int Tests, int Earned, int Possible);

/// <summary>
/// Results → grades, with no I/O. Points belong to a test method, as an instructor writes them:
/// a test earns its points only if it passed; failed, skipped and not-run tests earn 0 but still count as possible.
/// A theory earns its points once, and only if every one of its cases passed (all or nothing, like an nbgrader cell),
/// so adding a data row never changes what an exercise is worth.
/// </summary>
public sealed class GradeReport
{
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public GradeReport(IEnumerable<GradedResult> results)
    {
        Tests = results
            .GroupBy(r => r.Test, StringComparer.Ordinal)
            .Select(Combine)
            .OrderBy(t => t.Lesson).ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToList();
        Lessons = Tests
            .GroupBy(t => t.Lesson)
            .Select(g => Line(g.Key.ToString("00", CultureInfo.InvariantCulture), g))
            .ToList();
        Total = Line("Total", Tests);
    }

    /// <summary>Graded test methods, by lesson then name.</summary>
    public IReadOnlyList<GradedTest> Tests { get; }

    /// <summary>One line per lesson that has graded tests, in lesson order.</summary>
    public IReadOnlyList<GradeLine> Lessons { get; }

    public GradeLine Total { get; }

    /// <summary>The table printed at the end of a test run, e.g. "Lesson  Tests  Points" then "01  1/2  2/5" … "Total …".</summary>
    public string ToTable(string? title = null)
    {
        string[] header = ["Lesson", "Tests", "Points"];
        var rows = Lessons.Append(Total)
            .Select(l => new[] { l.Label, $"{l.Passed}/{l.Tests}", $"{l.Earned}/{l.Possible}" })
            .Prepend(header)
            .ToList();
        var widths = Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        text.AppendLine(title is null ? "Grade" : $"Grade: {title}");
        foreach (var row in rows)
            text.Append(row[0].PadRight(widths[0]))
                .Append("  ").Append(row[1].PadLeft(widths[1]))
                .Append("  ").AppendLine(row[2].PadLeft(widths[2]));
        return text.ToString();
    }

    /// <summary>
    /// The grade as markdown (a GitHub job summary): the score, the table per lesson, and each test that did not pass
    /// with the first <paramref name="messageLines"/> lines of its message.
    /// </summary>
    public string ToMarkdown(string? title = null, int messageLines = 20)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"## {(title is null ? "Grade" : $"Grade: {title}")}: {Total.Earned}/{Total.Possible}").AppendLine();
        text.AppendLine("| Lesson | Tests | Points |").AppendLine("| --- | ---: | ---: |");
        foreach (var line in Lessons.Append(Total))
            text.AppendLine(CultureInfo.InvariantCulture, $"| {line.Label} | {line.Passed}/{line.Tests} | {line.Earned}/{line.Possible} |");
        var failed = Tests.Where(t => t.Outcome != GradeOutcome.Passed).ToList();
        if (failed.Count > 0)
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"### Not passed ({failed.Count})").AppendLine();
        foreach (var t in failed)
        {
            var lines = (t.Message ?? t.Outcome.ToString()).Trim().Split('\n');
            var message = string.Join('\n', lines.Take(messageLines)) + (lines.Length > messageLines ? "\n…" : "");
            text.AppendLine(CultureInfo.InvariantCulture, $"**Lesson {t.Lesson:00}: {ShortName(t.Name)}** (0/{t.Points}, {t.Outcome.ToString().ToLowerInvariant()})").AppendLine();
            text.AppendLine("```").AppendLine(message.Replace("```", "'''", StringComparison.Ordinal)).AppendLine("```").AppendLine();
        }
        return text.ToString();
    }

    /// <summary>A test's class and method without the namespace: "Ex01AddressSpaceTests.ParsesALine".</summary>
    public static string ShortName(string name) => string.Join('.', name.Split('(')[0].Split('.').TakeLast(2));

    /// <summary>One JSON object per graded test (for the autograder), with the totals.</summary>
    public string ToJson() => JsonSerializer.Serialize(
        new
        {
            earned = Total.Earned,
            possible = Total.Possible,
            tests = Tests.Select(t => new
            {
                lesson = t.Lesson,
                name = t.Name,
                points = t.Earned,
                max = t.Points,
                outcome = t.Outcome.ToString(),
                message = t.Message,
                hidden = t.Hidden,
            }),
        },
        Json);

    static GradedTest Combine(IGrouping<string, GradedResult> cases)
    {
        var first = cases.First();
        var failing = cases.FirstOrDefault(r => r.Outcome == GradeOutcome.Failed)
            ?? cases.FirstOrDefault(r => r.Outcome != GradeOutcome.Passed);
        var message = failing?.Message is { } m && failing.Case != failing.Test ? $"{failing.Case}: {m}" : failing?.Message;
        return new GradedTest(first.Test, first.Lesson, first.Points, first.Hidden, failing?.Outcome ?? GradeOutcome.Passed, message);
    }

    static GradeLine Line(string label, IEnumerable<GradedTest> tests) => new(
        label,
        tests.Count(t => t.Outcome == GradeOutcome.Passed),
        tests.Count(),
        tests.Sum(t => t.Earned),
        tests.Sum(t => t.Points));
}

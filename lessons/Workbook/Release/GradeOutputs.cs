using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Release;

/// <summary>What a graded submission becomes: Gradescope's results.json, a markdown feedback report, a console table.</summary>
public static class GradeOutputs
{
    /// <summary>
    /// Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the score, the
    /// execution time, the grade table of the visible tests as markdown, one test per graded test with its score,
    /// max_score, status, output (the failure message), its lesson as a tag and its visibility (hidden tests
    /// "after_due_date", so the student sees the visible part of the score now), and lesson 05's leaderboard.
    /// </summary>
    public static string Gradescope(Grades grades)
    {
        var tests = new JsonArray();
        foreach (var t in grades.Tests)
            tests.Add(new JsonObject
            {
                ["name"] = $"Lesson {t.Lesson:00}: {t.ShortName}",
                ["score"] = t.Points,
                ["max_score"] = t.Max,
                ["status"] = t.Passed ? "passed" : "failed",
                ["output"] = t.Passed ? "passed" : t.Message ?? t.Outcome,
                ["tags"] = new JsonArray($"Lesson {t.Lesson:00}"),
                ["visibility"] = t.Hidden ? "after_due_date" : "visible",
            });
        var result = new JsonObject
        {
            ["score"] = grades.Earned,
            ["execution_time"] = (int)Math.Ceiling(grades.Elapsed.TotalSeconds),
            ["output"] = Markdown(grades),
            ["output_format"] = "md",
            ["stdout_visibility"] = "hidden",
            ["tests"] = tests,
        };
        if (grades.Leaderboard.Count > 0)
            result["leaderboard"] = new JsonArray([.. grades.Leaderboard.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Name,
                ["value"] = e.Value,
                ["order"] = e.Order,
            })]);
        return result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Gradescope's top-level output: the visible tests' grade table, then what concerns the whole submission.</summary>
    public static string Markdown(Grades grades)
    {
        var visible = grades.Tests.Where(t => !t.Hidden).ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Visible tests: {visible.Sum(t => t.Points)}/{visible.Sum(t => t.Max)} points** ({grades.StatusText})").AppendLine();
        text.AppendLine("| Lesson | Tests passed | Points |").AppendLine("|---|---|---|");
        foreach (var lesson in visible.GroupBy(t => t.Lesson).OrderBy(g => g.Key))
            text.AppendLine(CultureInfo.InvariantCulture, $"| {lesson.Key:00} | {lesson.Count(t => t.Passed)}/{lesson.Count()} | {lesson.Sum(t => t.Points)}/{lesson.Sum(t => t.Max)} |");
        if (grades.Tests.Count(t => t.Hidden) is > 0 and var hidden)
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"{hidden} hidden tests ({grades.Tests.Where(t => t.Hidden).Sum(t => t.Max)} points) are shown after the due date.");
        if (Summary(grades) is { Length: > 0 } summary)
            text.AppendLine().AppendLine("```text").AppendLine(summary).AppendLine("```");
        return text.ToString().TrimEnd();
    }

    /// <summary>The gradebook of a batch: a row per student, a column per lesson, the total and the status.</summary>
    public static string Gradebook(IReadOnlyList<(string Student, Grades Grades)> rows)
    {
        var lessons = rows.SelectMany(r => r.Grades.ByLesson().Keys).Distinct().Order().ToList();
        var text = new StringBuilder();
        text.AppendLine(string.Join(',', new[] { "student" }.Concat(lessons.Select(l => $"lesson {l:00}")).Concat(["total", "possible", "status", "detail"])));
        foreach (var (student, grades) in rows)
        {
            var byLesson = grades.ByLesson();
            var detail = (grades.Problem ?? grades.BuildLog?.Split('\n').FirstOrDefault() ?? "").Split('\n')[0];
            text.AppendLine(string.Join(',', new[] { Csv(student) }
                .Concat(lessons.Select(l => byLesson.TryGetValue(l, out var p) ? p.Earned.ToString(CultureInfo.InvariantCulture) : ""))
                .Concat([grades.Earned.ToString(CultureInfo.InvariantCulture), grades.Possible.ToString(CultureInfo.InvariantCulture), grades.StatusText, Csv(detail)])));
        }
        return text.ToString();
    }

    static string Csv(string field) =>
        field.IndexOfAny([',', '"', '\n', '\r']) < 0 && !field.StartsWith(' ') ? field : $"\"{field.Replace("\"", "\"\"")}\"";

    /// <summary>The per-student report: per lesson, each graded test with its points, and why the failed ones failed.</summary>
    public static string Feedback(Grades grades, string title)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Feedback: {title}").AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"**Score: {grades.Earned}/{grades.Possible}**").AppendLine();
        if (Summary(grades) is { Length: > 0 } summary)
            text.AppendLine(summary).AppendLine();
        foreach (var lesson in grades.Tests.GroupBy(t => t.Lesson).OrderBy(g => g.Key))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"## Lesson {lesson.Key:00}: {lesson.Sum(t => t.Points)}/{lesson.Sum(t => t.Max)}").AppendLine();
            text.AppendLine("| Test | Points | Result |").AppendLine("|---|---|---|");
            foreach (var t in lesson)
                text.AppendLine(CultureInfo.InvariantCulture, $"| {t.ShortName}{(t.Hidden ? " (hidden)" : "")} | {t.Points}/{t.Max} | {(t.Passed ? "passed" : t.Outcome.ToLowerInvariant())} |");
            text.AppendLine();
            foreach (var t in lesson.Where(t => !t.Passed))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"**{t.ShortName}** ({t.Points}/{t.Max}):").AppendLine();
                text.AppendLine("```").AppendLine((t.Message ?? t.Outcome).Trim()).AppendLine("```").AppendLine();
            }
        }
        return text.ToString();
    }

    /// <summary>The console table: one line per lesson and the total.</summary>
    public static string Table(Grades grades)
    {
        var rows = grades.Tests.GroupBy(t => t.Lesson).OrderBy(g => g.Key)
            .Select(g => ($"{g.Key:00}", $"{g.Count(t => t.Passed)}/{g.Count()}", $"{g.Sum(t => t.Points)}/{g.Sum(t => t.Max)}"))
            .Append(("Total", $"{grades.Tests.Count(t => t.Passed)}/{grades.Tests.Count}", $"{grades.Earned}/{grades.Possible}"))
            .Prepend(("Lesson", "Tests", "Points"))
            .ToList();
        int w1 = rows.Max(r => r.Item1.Length), w2 = rows.Max(r => r.Item2.Length), w3 = rows.Max(r => r.Item3.Length);
        var text = new StringBuilder();
        foreach (var (a, b, c) in rows)
            text.AppendLine(CultureInfo.InvariantCulture, $"{a.PadRight(w1)}  {b.PadLeft(w2)}  {c.PadLeft(w3)}");
        if (Summary(grades) is { Length: > 0 } summary)
            text.AppendLine(summary);
        return text.ToString();
    }

    /// <summary>What concerns the whole submission: changed test files, a build that failed, a time-out, the intake's notes.</summary>
    public static string Summary(Grades grades)
    {
        var text = new StringBuilder();
        if (grades.Tampering.Count > 0)
        {
            text.AppendLine("TAMPERING: the submission's test files differ from the release (the released tests were used for grading):");
            foreach (var line in grades.Tampering)
                text.AppendLine(CultureInfo.InvariantCulture, $"  {line}");
        }
        if (grades.BuildLog is not null)
            text.AppendLine("The submission did not build, so it scores 0. The compiler said:")
                .AppendLine(grades.BuildLog);
        if (grades.Problem is not null)
            text.AppendLine(grades.Problem);
        foreach (var note in grades.Notes)
            text.AppendLine(CultureInfo.InvariantCulture, $"note: {note}");
        return text.ToString().TrimEnd();
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Release;

/// <summary>What a graded submission becomes: Gradescope's results.json, a markdown feedback report, a console table.</summary>
public static class GradeOutputs
{
    /// <summary>
    /// Gradescope's results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/): the score, one test
    /// per graded test with its score, max_score, status, output and visibility ("hidden" for hidden tests), and the
    /// submission-wide output (tampering, build errors).
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
                ["visibility"] = t.Hidden ? "hidden" : "visible",
            });
        var result = new JsonObject
        {
            ["score"] = grades.Earned,
            ["output"] = Summary(grades),
            ["stdout_visibility"] = "hidden",
            ["tests"] = tests,
        };
        return result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

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

    /// <summary>What concerns the whole submission: changed test files, a build that failed.</summary>
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
            text.AppendLine("The submission did not build or its tests did not run, so it scores 0. The end of the output:")
                .AppendLine(grades.BuildLog);
        return text.ToString().TrimEnd();
    }
}

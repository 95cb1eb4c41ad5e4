using System.Text.Json;

namespace Grading.Tests;

public class GradeReportTests
{
    static GradedResult Result(string test, int lesson, int points, GradeOutcome outcome, string? testCase = null, string? message = null, bool hidden = false)
        => new(test, testCase ?? test, lesson, points, hidden, outcome, message);

    [Fact]
    public void A_passed_test_earns_its_points()
    {
        var report = new GradeReport([Result("T.A", 1, 2, GradeOutcome.Passed)]);

        Assert.Equal(new GradeLine("01", 1, 1, 2, 2), Assert.Single(report.Lessons));
        Assert.Equal(2, Assert.Single(report.Tests).Earned);
    }

    [Theory]
    [InlineData(GradeOutcome.Failed)]
    [InlineData(GradeOutcome.Skipped)]
    [InlineData(GradeOutcome.NotRun)]
    public void A_test_that_did_not_pass_earns_nothing_but_counts_as_possible(GradeOutcome outcome)
    {
        var report = new GradeReport([Result("T.A", 1, 2, GradeOutcome.Passed), Result("T.B", 1, 3, outcome)]);

        Assert.Equal(new GradeLine("01", 1, 2, 2, 5), Assert.Single(report.Lessons));
        Assert.Equal(outcome, report.Tests.Single(t => t.Name == "T.B").Outcome);
    }

    [Fact]
    public void A_theory_earns_its_points_once_and_only_if_every_case_passes()
    {
        var report = new GradeReport(
        [
            Result("T.All", 1, 4, GradeOutcome.Passed, "T.All(x: 1)"),
            Result("T.All", 1, 4, GradeOutcome.Passed, "T.All(x: 2)"),
            Result("T.Some", 1, 1, GradeOutcome.Passed, "T.Some(x: 1)"),
            Result("T.Some", 1, 1, GradeOutcome.Failed, "T.Some(x: -2)", "Assert.True() Failure"),
        ]);

        Assert.Equal(new GradeLine("01", 1, 2, 4, 5), Assert.Single(report.Lessons));
        var some = report.Tests.Single(t => t.Name == "T.Some");
        Assert.Equal(GradeOutcome.Failed, some.Outcome);
        Assert.Equal("T.Some(x: -2): Assert.True() Failure", some.Message);
    }

    [Fact]
    public void Lessons_are_totalled_in_lesson_order()
    {
        var report = new GradeReport(
        [
            Result("T.C", 10, 5, GradeOutcome.Passed),
            Result("T.A", 2, 1, GradeOutcome.Failed),
            Result("T.B", 2, 2, GradeOutcome.Passed),
            Result("T.D", 1, 3, GradeOutcome.Skipped),
        ]);

        Assert.Equal(
            [new GradeLine("01", 0, 1, 0, 3), new GradeLine("02", 1, 2, 2, 3), new GradeLine("10", 1, 1, 5, 5)],
            report.Lessons);
        Assert.Equal(new GradeLine("Total", 2, 4, 7, 11), report.Total);
        Assert.Equal(["T.D", "T.A", "T.B", "T.C"], report.Tests.Select(t => t.Name));
    }

    [Fact]
    public void The_table_has_a_line_per_lesson_and_a_total_with_right_aligned_counts()
    {
        var report = new GradeReport(
        [
            Result("T.A", 1, 2, GradeOutcome.Passed),
            Result("T.B", 1, 3, GradeOutcome.Failed),
            Result("T.C", 2, 10, GradeOutcome.Passed),
        ]);

        Assert.Equal(
            """
            Grade: Exercises.Tests
            Lesson  Tests  Points
            01        1/2     2/5
            02        1/1   10/10
            Total     2/3   12/15

            """.ReplaceLineEndings(),
            report.ToTable("Exercises.Tests"));
    }

    [Fact]
    public void The_json_has_one_object_per_test_and_the_totals()
    {
        var report = new GradeReport(
        [
            Result("T.A", 1, 2, GradeOutcome.Passed),
            Result("T.B", 3, 3, GradeOutcome.Failed, message: "boom", hidden: true),
        ]);

        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        Assert.Equal(2, root.GetProperty("earned").GetInt32());
        Assert.Equal(5, root.GetProperty("possible").GetInt32());
        var failed = root.GetProperty("tests")[1];
        Assert.Equal(3, failed.GetProperty("lesson").GetInt32());
        Assert.Equal("T.B", failed.GetProperty("name").GetString());
        Assert.Equal(0, failed.GetProperty("points").GetInt32());
        Assert.Equal(3, failed.GetProperty("max").GetInt32());
        Assert.Equal("Failed", failed.GetProperty("outcome").GetString());
        Assert.Equal("boom", failed.GetProperty("message").GetString());
        Assert.True(failed.GetProperty("hidden").GetBoolean());
    }

    [Fact]
    public void No_results_make_an_empty_report()
    {
        var report = new GradeReport([]);

        Assert.Empty(report.Tests);
        Assert.Empty(report.Lessons);
        Assert.Equal(new GradeLine("Total", 0, 0, 0, 0), report.Total);
    }

    [Fact]
    public void The_markdown_has_the_score_a_row_per_lesson_and_each_failed_test_with_its_message()
    {
        var report = new GradeReport([
            Result("Exercises.Tests.Ex01Tests.A", 1, 2, GradeOutcome.Passed),
            Result("Exercises.Tests.Ex02Tests.B", 2, 3, GradeOutcome.Failed, message: "Assert.Equal() Failure\nExpected: 3\nActual:   4"),
        ]);

        var markdown = report.ToMarkdown("Exercises.Tests");

        Assert.StartsWith("## Grade: Exercises.Tests: 2/5\n\n| Lesson | Tests | Points |\n| --- | ---: | ---: |\n| 01 | 1/1 | 2/2 |\n| 02 | 0/1 | 0/3 |\n| Total | 1/2 | 2/5 |\n", markdown);
        Assert.Contains("### Not passed (1)", markdown);
        Assert.Contains("**Lesson 02: Ex02Tests.B** (0/3, failed)\n\n```\nAssert.Equal() Failure\nExpected: 3\nActual:   4\n```", markdown);
        Assert.DoesNotContain("Ex01Tests.A**", markdown);
    }
}

using System.IO.Compression;
using System.Text.Json.Nodes;
using Workbook.Release;

namespace Workbook.Tests.Release;

/// <summary>The fast parts of grading: where the intake finds the exercise files, the compiler's errors, the gradebook, the autograder's failures.</summary>
public sealed class GradingIntakeTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    static readonly string[] Names = ["Ex01AddressSpace.cs", "Ex05BuildAnAllocator.cs"];

    string Write(string relative, string text = "// code")
    {
        var path = temp.File(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_flat_upload_gives_its_exercise_files_by_the_course_names_and_ignores_the_rest()
    {
        Write("up/ex01addressspace.cs", "flat");
        Write("up/Ex05BuildAnAllocator.cs", "five");
        Write("up/Ex05Mine.cs");
        Write("up/readme.txt");

        using var submission = Submission.Open(temp.File("up"), Names);

        Assert.Equal(["lessons/Exercises/Ex01AddressSpace.cs", "lessons/Exercises/Ex05BuildAnAllocator.cs"], submission.Exercises.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("flat", System.Text.Encoding.UTF8.GetString(submission.Exercises["lessons/Exercises/Ex01AddressSpace.cs"]));
        Assert.Null(submission.RepositoryRoot);
    }

    [Fact]
    public void The_repository_layout_wins_over_other_copies_brings_helpers_and_is_checked_for_tampering()
    {
        Write("repo/lessons/Exercises/Ex01AddressSpace.cs", "real");
        Write("repo/lessons/Exercises/Helpers/Parsing.cs", "helper");
        Write("repo/lessons/Exercises/bin/Debug/Ex01AddressSpace.cs", "build output");
        Write("repo/backup/Ex01AddressSpace.cs", "old");
        Directory.CreateDirectory(temp.File("repo/tests"));

        using var submission = Submission.Open(temp.File("repo"), Names);

        Assert.Equal("real", System.Text.Encoding.UTF8.GetString(submission.Exercises["lessons/Exercises/Ex01AddressSpace.cs"]));
        Assert.Equal("helper", System.Text.Encoding.UTF8.GetString(submission.Exercises["lessons/Exercises/Helpers/Parsing.cs"]));
        Assert.Equal(2, submission.Exercises.Count);
        Assert.Equal(temp.File("repo"), submission.RepositoryRoot);
        Assert.Contains("Ex01AddressSpace.cs: 2 copies, graded lessons/Exercises/Ex01AddressSpace.cs", submission.Notes);
    }

    [Fact]
    public void A_zip_of_the_repository_is_read_and_so_is_a_zip_inside_an_upload()
    {
        Write("src/my-repo/lessons/Exercises/Ex05BuildAnAllocator.cs", "zipped");
        Directory.CreateDirectory(temp.File("upload"));
        ZipFile.CreateFromDirectory(temp.File("src"), temp.File("upload/work.zip"));

        using (var zipped = Submission.Open(temp.File("upload/work.zip"), Names))
            Assert.Equal("zipped", System.Text.Encoding.UTF8.GetString(zipped.Exercises["lessons/Exercises/Ex05BuildAnAllocator.cs"]));
        using var inside = Submission.Open(temp.File("upload"), Names);
        Assert.Equal("zipped", System.Text.Encoding.UTF8.GetString(inside.Exercises["lessons/Exercises/Ex05BuildAnAllocator.cs"]));
        Assert.Contains("unpacked work.zip", inside.Notes);
        var unpacked = inside.RepositoryRoot!;
        inside.Dispose();
        Assert.False(Directory.Exists(unpacked));
    }

    [Fact]
    public void Garbage_and_missing_uploads_say_why_and_an_empty_one_has_nothing()
    {
        Write("garbage.zip", "PK but not really");

        Assert.StartsWith("cannot read garbage.zip as a zip file", Assert.Throws<SubmissionException>(() => Submission.Open(temp.File("garbage.zip"), Names)).Message);
        Assert.EndsWith("is neither a folder nor a zip file", Assert.Throws<SubmissionException>(() => Submission.Open(temp.File("nowhere"), Names)).Message);
        Directory.CreateDirectory(temp.File("empty"));
        using var empty = Submission.Open(temp.File("empty"), Names);
        Assert.Empty(empty.Exercises);
    }

    [Fact]
    public void An_empty_submission_scores_zero_of_every_lesson_without_a_build()
    {
        Directory.CreateDirectory(temp.File("empty"));
        var root = Repository.FindRoot(AppContext.BaseDirectory)!;

        var grades = Grader.Grade(root, temp.File("empty"), manifest: null);

        Assert.Equal(GradeStatus.NothingToGrade, grades.Status);
        Assert.Equal(0, grades.Earned);
        Assert.True(grades.Possible > 0);
        Assert.Equal(Enumerable.Range(1, 10), grades.ByLesson().Keys);
        Assert.Contains("no exercise file", GradeOutputs.Summary(grades));
    }

    [Fact]
    public void Compiler_errors_are_listed_once_each_relative_to_the_workspace()
    {
        const string Output = """
              Lessons -> /tmp/ws/lessons/Lessons/bin/Debug/net10.0/Lessons.dll
            /tmp/ws/lessons/Exercises/Ex01AddressSpace.cs(3,1): error CS1513: } expected [/tmp/ws/lessons/Exercises/Exercises.csproj]
            /tmp/ws/lessons/Exercises/Ex01AddressSpace.cs(3,1): error CS1513: } expected [/tmp/ws/lessons/Exercises/Exercises.csproj]
            Build FAILED.
            """;

        Assert.Equal("lessons/Exercises/Ex01AddressSpace.cs(3,1): error CS1513: } expected", Grader.CompilerErrors(Output, "/tmp/ws"));
        Assert.Contains("restore failed", Grader.CompilerErrors("error NU1101: restore failed", "/tmp/ws"));
    }

    [Fact]
    public void A_run_that_timed_out_or_crashed_keeps_what_finished_and_counts_the_rest_as_unreported()
    {
        var possible = new SortedDictionary<int, int> { [1] = 5, [2] = 4 };
        IReadOnlyList<TestGrade> finished = [new(1, "T.Parses", 2, 2, "Passed", null, false)];

        var timedOut = Grader.Complete(new(finished, "output", TimedOut: true), possible, TimeSpan.FromMinutes(8), "/tmp/ws");
        var crashed = Grader.Complete(new(finished, "Test host process crashed", TimedOut: false), possible, TimeSpan.FromMinutes(8), "/tmp/ws");

        Assert.Equal(GradeStatus.TimedOut, timedOut.Status);
        Assert.Equal((2, 9), (timedOut.Earned, timedOut.Possible));
        Assert.Equal([(1, 3), (2, 4)], timedOut.Tests.Where(t => t.Name == "(tests that did not report)").Select(t => (t.Lesson, t.Max)));
        Assert.Contains("did not finish within 8 minutes", timedOut.Problem);
        Assert.Equal(GradeStatus.Crashed, crashed.Status);
        Assert.Contains("Test host process crashed", crashed.Problem);
        Assert.Equal(GradeStatus.DidNotBuild, Grader.Complete(new(null, "x.cs(1,1): error CS1002: ; expected", false), possible, TimeSpan.FromMinutes(8), "/tmp/ws").Status);
    }

    [Fact]
    public void The_gradebook_has_a_row_per_student_a_column_per_lesson_and_quotes_what_needs_it()
    {
        TestGrade Test(int lesson, int points, int max) => new(lesson, $"T.L{lesson}", points, max, points == max ? "Passed" : "Failed", null, false);
        var rows = new List<(string, Grades)>
        {
            ("alice", new Grades([Test(1, 2, 2), Test(2, 0, 3)], 2, 5, [], null)),
            ("bob, jr", new Grades([Test(1, 0, 2), Test(2, 0, 3)], 0, 5, [], "x.cs(1,1): error CS1002: ; expected\nmore")),
            ("carol", new Grades([Test(1, 0, 2), Test(2, 0, 3)], 0, 5, [], null) { Status = GradeStatus.TimedOut, Problem = "did not finish, \"8 min\"" }),
        };

        Assert.Equal(""""
            student,lesson 01,lesson 02,total,possible,status,detail
            alice,2,0,2,5,built,
            "bob, jr",0,0,0,5,failed to build,"x.cs(1,1): error CS1002: ; expected"
            carol,0,0,0,5,timed out,"did not finish, ""8 min"""

            """".ReplaceLineEndings("\n"), GradeOutputs.Gradebook(rows));
    }

    [Fact]
    public void The_autograder_writes_results_json_even_when_it_cannot_grade()
    {
        var root = temp.File("ag");
        Directory.CreateDirectory(Path.Combine(root, "submission"));

        Assert.Equal(0, GradescopeAutograder.Run(root, TimeSpan.FromMinutes(1), TextWriter.Null));

        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "results", "results.json")))!.AsObject();
        Assert.Equal(0, (int)results["score"]!);
        Assert.Contains("The autograder failed: no course copy in", (string)results["output"]!);
    }

    [Theory]
    [InlineData(2, "gradescope-run")]
    [InlineData(2, "gradescope-run", "--timeout", "60")]
    [InlineData(2, "gradescope-run", "--root", "/x", "--timeout", "soon")]
    [InlineData(1, "gradescope-run", "--root", "/nowhere/at/all")]
    [InlineData(0, "gradescope-run", "--help")]
    [InlineData(2, "gradescope")]
    [InlineData(0, "gradescope", "--help")]
    [InlineData(2, "grade", "--submissions", "/x")]
    [InlineData(2, "grade", "--submission", "/x", "--submissions", "/y", "--out", "/z")]
    [InlineData(2, "grade", "--submission", "/x", "--timeout", "5")]
    [InlineData(1, "grade", "--submissions", "/nowhere/at/all", "--out", "/tmp/nowhere-out")]
    [InlineData(0, "grade", "--help")]
    public void Grading_commands_exit_0_1_or_2(int exitCode, params string[] args) => Assert.Equal(exitCode, Program.Main(args));
}

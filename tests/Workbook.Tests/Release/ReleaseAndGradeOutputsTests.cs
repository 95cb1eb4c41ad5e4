using System.Text.Json.Nodes;
using Workbook.Release;

namespace Workbook.Tests.Release;

/// <summary>The fast parts of the course workflow: the release's files and manifest, tampering, the reports.</summary>
public sealed class ReleaseAndGradeOutputsTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    static readonly string Root = Repository.FindRoot(AppContext.BaseDirectory)!;

    [Fact]
    public void The_release_stubs_solutions_drops_hidden_material_and_lists_every_test_file_in_its_manifest()
    {
        var release = temp.File("release");

        var result = StudentRelease.Write(Root, release);

        Assert.True(result.Stubs > 0 && result.HiddenRegions > 0);
        var exercise = File.ReadAllText(Path.Combine(release, "lessons", "Exercises", "Ex01AddressSpace.cs"));
        Assert.Contains("throw new NotImplementedException(\"Exercise 01.1 (ParseLine): not implemented yet\");", exercise);
        Assert.DoesNotContain("BEGIN SOLUTION", exercise);
        Assert.DoesNotContain("Hidden = true", File.ReadAllText(Path.Combine(release, "tests", "Exercises.Tests", "Ex01AddressSpaceTests.cs")));
        foreach (var path in new[] { ".ci", "executed", "docs/instructor-guide.md", "tests/Exercises.Tests/HiddenTraces", ".git" })
            Assert.False(Path.Exists(Path.Combine(release, path)), path);
        Assert.Empty(Directory.EnumerateDirectories(release, "bin", SearchOption.AllDirectories));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(release, StudentRelease.ManifestFile)))!["tests"]!.AsObject();
        var testFiles = Directory.EnumerateFiles(Path.Combine(release, "tests"), "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(release, f).Replace('\\', '/')).Order(StringComparer.Ordinal);
        Assert.Equal(testFiles, manifest.Select(p => p.Key));
        Assert.Empty(Grader.Tampering(release, Path.Combine(release, StudentRelease.ManifestFile)));
        foreach (var notebook in Directory.EnumerateFiles(Path.Combine(release, "notebooks"), "*.ipynb"))
            Assert.All(TestSupport.CodeCells(Notebooks.NotebookFile.Load(notebook)), cell => Assert.Empty(TestSupport.Outputs(cell)));
    }

    [Fact]
    public void The_release_refuses_a_folder_that_is_not_empty_and_writes_nothing()
    {
        File.WriteAllText(temp.File("kept.txt"), "x");

        Assert.Throws<IOException>(() => StudentRelease.Write(Root, temp.Path));
        Assert.Single(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public void A_malformed_marker_stops_the_release_naming_file_and_line_and_nothing_is_written()
    {
        var repo = temp.File("repo");
        Directory.CreateDirectory(Path.Combine(repo, "lessons", "Exercises"));
        File.WriteAllText(Path.Combine(repo, "lessons", "Exercises", "Ex07Sample.cs"), "class A\n{\n    // BEGIN SOLUTION\n}\n");
        File.WriteAllText(Path.Combine(repo, "notes.txt"), "kept");
        foreach (var git in new[] { new[] { "init", "-q" }, ["add", "."] })
            Assert.Equal(0, TestSupport.RunProcess("git", git, repo, TimeSpan.FromMinutes(1)).ExitCode);

        var error = Assert.Throws<MarkerException>(() => StudentRelease.Write(repo, temp.File("out")));

        Assert.Equal("lessons/Exercises/Ex07Sample.cs:3: '// BEGIN SOLUTION' is never closed", error.Message);
        Assert.False(Directory.Exists(temp.File("out")));
    }

    [Fact]
    public void Tampering_lists_changed_missing_and_added_test_files()
    {
        Directory.CreateDirectory(temp.File("tests"));
        File.WriteAllText(temp.File("tests/a.cs"), "changed");
        File.WriteAllText(temp.File("tests/new.cs"), "added");
        Directory.CreateDirectory(temp.File("tests/bin"));
        File.WriteAllText(temp.File("tests/bin/ignored.dll"), "build output");
        var manifest = new JsonObject { ["tests"] = new JsonObject { ["tests/a.cs"] = StudentRelease.Sha256("original"u8.ToArray()), ["tests/gone.cs"] = "00" } };
        File.WriteAllText(temp.File("manifest.json"), manifest.ToJsonString());

        Assert.Equal(["changed: tests/a.cs", "missing: tests/gone.cs", "added: tests/new.cs"], Grader.Tampering(temp.Path, temp.File("manifest.json")));
    }

    static Grades Sample(IReadOnlyList<string> tampering) => new(
        [
            new TestGrade(1, "Exercises.Tests.Ex01Tests.Parses", 2, 2, "Passed", null, false),
            new TestGrade(1, "Exercises.Tests.Ex01Tests.Classifies(kind: 3)", 0, 3, "Failed", "Assert.Equal() Failure: expected 3", false),
            new TestGrade(2, "Exercises.Tests.Ex02Tests.Secret", 0, 4, "Failed", "System.NotImplementedException : Exercise 02.1", true),
        ],
        2, 9, tampering, null);

    [Fact]
    public void Gradescope_results_show_hidden_tests_after_the_due_date_tag_lessons_and_say_when_tests_were_changed()
    {
        var results = JsonNode.Parse(GradeOutputs.Gradescope(Sample(["changed: tests/x.cs"])))!.AsObject();

        Assert.Equal(2, (int)results["score"]!);
        var tests = results["tests"]!.AsArray();
        Assert.Equal(["Lesson 01: Ex01Tests.Parses", "Lesson 01: Ex01Tests.Classifies", "Lesson 02: Ex02Tests.Secret"], tests.Select(t => (string)t!["name"]!));
        Assert.Equal(["visible", "visible", "after_due_date"], tests.Select(t => (string)t!["visibility"]!));
        Assert.Equal(["Lesson 01", "Lesson 01", "Lesson 02"], tests.Select(t => (string)t!["tags"]![0]!));
        Assert.Equal("md", (string)results["output_format"]!);
        Assert.Contains("**Visible tests: 2/5 points** (built)", (string)results["output"]!);
        Assert.Contains("| 01 | 1/2 | 2/5 |", (string)results["output"]!);
        Assert.DoesNotContain("| 02 |", (string)results["output"]!);
        Assert.Contains("1 hidden tests (4 points) are shown after the due date.", (string)results["output"]!);
        Assert.False(results.ContainsKey("leaderboard"));
        Assert.Equal(["passed", "failed", "failed"], tests.Select(t => (string)t!["status"]!));
        Assert.Equal("Assert.Equal() Failure: expected 3", (string)tests[1]!["output"]!);
        Assert.Contains("TAMPERING", (string)results["output"]!);
        Assert.Contains("changed: tests/x.cs", (string)results["output"]!);
    }

    [Fact]
    public void Gradescope_results_carry_the_leaderboard_and_the_execution_time()
    {
        var grades = Sample([]) with { Leaderboard = [new("Utilization (%)", 77.4), new("Time", 1.5, "asc")], Elapsed = TimeSpan.FromSeconds(41.2) };

        var results = JsonNode.Parse(GradeOutputs.Gradescope(grades))!.AsObject();

        Assert.Equal(42, (int)results["execution_time"]!);
        Assert.Equal("""[{"name":"Utilization (%)","value":77.4,"order":"desc"},{"name":"Time","value":1.5,"order":"asc"}]""", results["leaderboard"]!.ToJsonString());
    }

    [Fact]
    public void Feedback_lists_each_lesson_its_tests_points_and_failure_messages()
    {
        var feedback = GradeOutputs.Feedback(Sample([]), "alice");

        Assert.Contains("# Feedback: alice", feedback);
        Assert.Contains("**Score: 2/9**", feedback);
        Assert.Contains("## Lesson 01: 2/5", feedback);
        Assert.Contains("| Ex01Tests.Parses | 2/2 | passed |", feedback);
        Assert.Contains("| Ex01Tests.Classifies | 0/3 | failed |", feedback);
        Assert.Contains("```\nAssert.Equal() Failure: expected 3\n```", feedback);
        Assert.Contains("| Ex02Tests.Secret (hidden) | 0/4 | failed |", feedback);
        Assert.DoesNotContain("TAMPERING", feedback);
    }

    [Fact]
    public void A_submission_that_does_not_build_scores_zero_of_everything_and_says_why()
    {
        var grades = new Grades([], 0, 9, [], "error CS1002: ; expected");

        Assert.Contains("0/9", GradeOutputs.Table(grades));
        Assert.Contains("error CS1002", (string)JsonNode.Parse(GradeOutputs.Gradescope(grades))!["output"]!);
    }
}

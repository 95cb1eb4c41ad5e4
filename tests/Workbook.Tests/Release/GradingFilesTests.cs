using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TestTools;
using Workbook.Release;
using YamlDotNet.RepresentationModel;

namespace Workbook.Tests.Release;

/// <summary>
/// The grading files of a release: the plain GitHub Actions workflow and its script in the student copy, and the
/// Classroom 50 bundle (autograder.py, graded-tests.json) checked against Classroom 50's classroom50/result/v1 schema
/// (https://github.com/foundation50/classroom50/blob/main/schemas/result-v1.schema.json).
/// </summary>
public sealed partial class GradingFilesTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    static readonly string Root = Repository.FindRoot(AppContext.BaseDirectory)!;

    (string Release, string Bundle) Release()
    {
        var (release, bundle) = (temp.File("release"), temp.File("classroom50"));
        StudentRelease.Write(Root, release, bundle);
        return (release, bundle);
    }

    static Dictionary<string, byte[]> TestSources(string root) =>
        Directory.EnumerateFiles(Path.Combine(root, "tests", "Exercises.Tests"), "*.cs")
            .ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllBytes);

    /// <summary>The visible points of a released copy, from its [Graded] attributes.</summary>
    static int VisiblePoints(string release) => GradedSources.PointsPerLesson(TestSources(release)).Values.Sum();

    static YamlMappingNode Map(YamlNode node, string key) => (YamlMappingNode)node[key];

    static string Scalar(YamlNode node, string key) => ((YamlScalarNode)node[key]).Value!;

    [Fact]
    public void The_student_copy_grades_with_plain_actions_on_current_majors_and_no_classroom_service()
    {
        var (release, _) = Release();

        var yaml = new YamlStream();
        yaml.Load(new StringReader(File.ReadAllText(Path.Combine(release, GradingFiles.WorkflowPath))));
        var workflow = (YamlMappingNode)yaml.Documents.Single().RootNode;
        Assert.Equal(["push", "pull_request", "workflow_dispatch"], Map(workflow, "on").Children.Keys.Select(k => k.ToString()));
        Assert.Equal("read", Scalar(Map(workflow, "permissions"), "contents"));
        var job = Map(Map(workflow, "jobs"), "grade");
        Assert.Equal("ubuntu-latest", Scalar(job, "runs-on"));
        Assert.Equal("0", Scalar(Map(job, "env"), "DOTNET_EnableWriteXorExecute"));
        var steps = ((YamlSequenceNode)job["steps"]).Children.Cast<YamlMappingNode>().ToList();
        // The majors that run on the runners' Node 24.
        Assert.Equal(["actions/checkout@v6", "actions/setup-dotnet@v5"], steps.Where(s => s.Children.ContainsKey("uses")).Select(s => Scalar(s, "uses")));
        Assert.Equal("global.json", Scalar(Map(steps[1], "with"), "global-json-file"));
        Assert.Equal("bash .github/scripts/grade.sh", Scalar(steps[^1], "run"));
        Assert.Equal("bash", Scalar(steps[^1], "shell"));

        var script = Path.Combine(release, GradingFiles.ScriptPath);
        Assert.True((File.GetUnixFileMode(script) & UnixFileMode.UserExecute) != 0);
        Assert.Contains($"\npossible={VisiblePoints(release)}\n", File.ReadAllText(script));
        Assert.Contains("$GITHUB_STEP_SUMMARY", File.ReadAllText(script));
        // No GitHub Classroom workflow, nothing that reports to its service, and not Classroom 50's reserved file.
        Assert.Equal([GradingFiles.WorkflowPath], Directory.EnumerateFiles(Path.Combine(release, ".github", "workflows"))
            .Select(f => Path.GetRelativePath(release, f).Replace('\\', '/')));
        Assert.False(File.Exists(Path.Combine(release, GradingFiles.Classroom50Reserved)));
        Assert.All(Directory.EnumerateFiles(Path.Combine(release, ".github"), "*", SearchOption.AllDirectories),
            f => Assert.DoesNotContain("classroom-resources", File.ReadAllText(f)));
    }

    [Fact]
    public void The_classroom50_bundle_lists_every_visible_graded_test_with_its_points_and_no_hidden_one()
    {
        var (release, bundle) = Release();

        Assert.Equal([GradingFiles.AutograderFile, GradingFiles.TestListFile],
            Directory.EnumerateFiles(bundle).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var list = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, GradingFiles.TestListFile)))!;
        var tests = list["tests"]!.AsArray().Select(t => (Name: (string)t!["name"]!, Lesson: (int)t["lesson"]!, Points: (int)t["points"]!)).ToList();
        var released = TestSources(release);
        int attributes = released.Values.Sum(b => GradedAttributeCount().Count(System.Text.Encoding.UTF8.GetString(b)));
        Assert.Equal(attributes, tests.Count);
        Assert.Equal(VisiblePoints(release), tests.Sum(t => t.Points));
        Assert.Equal(VisiblePoints(release), (int)list["possible"]!);
        Assert.Equal(tests.Count, tests.Select(t => t.Name).Distinct().Count());
        Assert.Equal(GradedSources.PointsPerLesson(released), new SortedDictionary<int, int>(tests.GroupBy(t => t.Lesson).ToDictionary(g => g.Key, g => g.Sum(t => t.Points))));
        Assert.All(tests, t => Assert.Matches(@"^Exercises\.Tests\.Ex\d\d\w+Tests\.\w+$", t.Name));
        var hidden = GradedSources.Tests(TestSources(Root)).Where(t => t.Hidden).Select(t => t.Name).ToList();
        Assert.NotEmpty(hidden);
        Assert.Empty(hidden.Intersect(tests.Select(t => t.Name)));
        Assert.True((File.GetUnixFileMode(Path.Combine(bundle, GradingFiles.AutograderFile)) & UnixFileMode.UserExecute) != 0);
    }

    [GeneratedRegex(@"\[(?:Fact|Theory), Graded\(")]
    private static partial Regex GradedAttributeCount();

    [Fact]
    public void The_bundle_must_go_to_its_own_folder()
    {
        Assert.Throws<IOException>(() => StudentRelease.Write(Root, temp.File("release"), temp.File("release/classroom50")));
        Assert.False(Directory.Exists(temp.File("release")));
    }

    /// <summary>
    /// A released copy: its notebook check on the stubs (0, with their messages, in the notebook's last cell), then the
    /// workflow's script and the Classroom 50 autograder, run by the instructor guide's commands (as GitHub Actions and
    /// Classroom 50 run them), with the solutions copied in (full marks) and with code that does not build (0, with
    /// the build errors). Slow: four builds, a notebook and three test runs (one to two minutes).
    /// </summary>
    [RequiresTool(Tool.Python3)]
    public void The_check_the_workflow_script_and_the_autograder_grade_a_released_copy_and_report_0_with_the_errors_when_it_does_not_build()
    {
        var (release, bundle) = Release();
        var clock = Stopwatch.StartNew();
        // The student copy's check (it builds the copy first): the stubs fail, with their messages, and no claim line.
        var (report, passed) = CheckCommand.Check(release, 1);
        Assert.False(passed);
        Assert.Matches(@"^Lesson 01: 0/\d+ graded tests passed, 0/\d+ points\n", report);
        Assert.Contains("not implemented yet", report);
        Assert.DoesNotContain("yes  ", report);
        Assert.DoesNotContain("NO  ", report);
        // The released notebook's last cell shows that report, and the notebook run does not fail for it.
        var cli = Path.Combine(release, "lessons", "Workbook", "bin", "Debug", "net10.0", "Workbook.dll");
        var notebook = TestSupport.RunProcess("dotnet", [cli, "run", "notebooks/01-address-space.ipynb", "--out", temp.File("executed")], release, TimeSpan.FromMinutes(5));
        Assert.True(notebook.ExitCode == 0, notebook.Stdout + notebook.Stderr);
        var last = TestSupport.CodeCells(Notebooks.NotebookFile.Load(temp.File("executed/01-address-space.ipynb")))[^1];
        var shown = TestSupport.Printed(last);
        Assert.StartsWith(report.Split('\n')[0], shown);
        Assert.Contains("not implemented yet", shown);

        foreach (var source in Directory.EnumerateFiles(Path.Combine(Root, "lessons", "Exercises"), "*.cs"))
        {
            var target = Path.Combine(release, "lessons", "Exercises", Path.GetFileName(source));
            File.Copy(source, target, overwrite: true);
            File.SetLastWriteTimeUtc(target, DateTime.UtcNow); // as an edit would: newer than the check's build
        }
        int possible = VisiblePoints(release);
        int tests = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle, GradingFiles.TestListFile)))!["tests"]!.AsArray().Count;

        var (code, summary, output) = RunScript(release, "solved.md");
        Assert.True(code == 0, output);
        Assert.StartsWith($"## Grade: Exercises.Tests: {possible}/{possible}\n", summary);
        Assert.Matches(@"\| 10 \| \d+/\d+ \| \d+/\d+ \|", summary);
        Assert.DoesNotContain("Not passed", summary);

        var solved = RunAutograder(release, bundle);
        Assert.Equal(possible, (int)solved["score"]!);
        Assert.Equal(tests, solved["tests"]!.AsArray().Count);
        Assert.All(solved["tests"]!.AsArray(), t => Assert.True((bool)t!["passed"]!, t.ToJsonString()));

        File.AppendAllText(Path.Combine(release, "lessons", "Exercises", "Ex01AddressSpace.cs"), "\nclass Broken { int x = ; }\n");
        (code, summary, output) = RunScript(release, "broken.md");
        Assert.Equal(1, code);
        Assert.StartsWith($"## Grade: 0/{possible}\n", summary);
        Assert.Matches(@"\nlessons/Exercises/Ex01AddressSpace\.cs\(\d+,\d+\): error CS\d+:", summary);

        var broken = RunAutograder(release, bundle);
        Assert.Equal(0, (int)broken["score"]!);
        Assert.Equal(possible, (int)broken["max-score"]!);
        var build = broken["tests"]!.AsArray()[0]!;
        Assert.Equal("Build", (string)build["test-name"]!);
        Assert.Contains("lessons/Exercises/Ex01AddressSpace.cs(", (string)build["message"]!);
        Assert.Equal(tests + 1, broken["tests"]!.AsArray().Count);

        Console.WriteLine($"grading files end to end: {clock.Elapsed.TotalSeconds:F0} s");
    }

    (int ExitCode, string Summary, string Output) RunScript(string release, string summaryName)
    {
        var output = temp.File(summaryName);
        Directory.CreateDirectory(output);
        var (code, stdout, stderr) = TestSupport.RunProcess("bash", ["-c", GuideCommand("bash .github/scripts/grade.sh")], Root,
            TimeSpan.FromMinutes(8), new Dictionary<string, string?> { ["SUBMISSION"] = release, ["OUT"] = output, ["RUNNER_TEMP"] = temp.Path });
        var summary = Path.Combine(output, "summary.md");
        return (code, File.Exists(summary) ? File.ReadAllText(summary) : "", stdout + stderr);
    }

    JsonObject RunAutograder(string release, string bundle)
    {
        File.Delete(Path.Combine(release, "result.json"));
        var (code, stdout, stderr) = TestSupport.RunProcess("bash", ["-c", GuideCommand("autograder.py")], Root,
            TimeSpan.FromMinutes(8), new Dictionary<string, string?>
            {
                ["SUBMISSION"] = release,
                ["CLASSROOM50"] = bundle,
                ["CLASSROOM"] = "os-fall-2026",
                ["ASSIGNMENT"] = "memory",
                ["SUBMISSION_TAG"] = "submit/2026-12-06T21-00-00Z-a1b2c3d",
                ["COMMIT_URL"] = "https://github.com/org/repo/commit/a1b2c3d",
                ["RELEASE_URL"] = "https://github.com/org/repo/releases/tag/submit%2F2026-12-06T21-00-00Z-a1b2c3d",
                ["OWNER"] = "alice",
                ["ASSIGNMENT_TYPE"] = "individual",
            });
        Assert.True(code == 0, stdout + stderr);
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(release, "result.json")))!.AsObject();
        AssertResultSchema(result);
        return result;
    }

    /// <summary>The one shell line of the instructor guide's code blocks that contains <paramref name="marker"/>.</summary>
    static string GuideCommand(string marker)
    {
        var guide = File.ReadAllText(Path.Combine(Root, "docs", "instructor-guide.md"));
        var blocks = guide.Split("```").Where((_, i) => i % 2 == 1);
        return Assert.Single(blocks.SelectMany(b => b.Split('\n')), l => l.Contains(marker, StringComparison.Ordinal)).Trim();
    }

    /// <summary>classroom50/result/v1 (schemas/result-v1.schema.json), with the cross-field rules its validators add.</summary>
    static void AssertResultSchema(JsonObject result)
    {
        string[] properties = ["schema", "classroom", "assignment", "assignment_type", "owner", "submission", "commit", "release",
            "review", "datetime", "graded_at", "score", "max-score", "tests", "submitted_by"];
        string[] required = ["schema", "classroom", "assignment", "assignment_type", "owner", "submission", "commit", "release",
            "review", "datetime", "score", "max-score", "tests"];
        Assert.All(result.Select(p => p.Key), key => Assert.Contains(key, properties)); // additionalProperties: false
        Assert.All(required, key => Assert.True(result.ContainsKey(key), $"result.json lacks {key}"));
        Assert.Equal("classroom50/result/v1", (string)result["schema"]!);
        foreach (var key in new[] { "classroom", "assignment", "owner", "commit", "release", "review" })
            Assert.False(string.IsNullOrEmpty((string?)result[key]), key);
        Assert.Contains((string)result["assignment_type"]!, new[] { "individual", "group" });
        Assert.StartsWith("submit/", (string)result["submission"]!);
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$", (string)result["datetime"]!);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, result["score"]!.GetValueKind());
        int score = (int)result["score"]!, max = (int)result["max-score"]!;
        Assert.InRange(score, 0, max);
        var tests = result["tests"]!.AsArray().Select(t => t!.AsObject()).ToList();
        foreach (var test in tests)
        {
            Assert.False(string.IsNullOrEmpty((string?)test["test-name"]));
            Assert.Contains(test["passed"]!.GetValueKind(), new[] { System.Text.Json.JsonValueKind.True, System.Text.Json.JsonValueKind.False });
            Assert.InRange((int)test["score"]!, 0, (int)test["max-score"]!);
        }
        Assert.Equal(score, tests.Sum(t => (int)t["score"]!));
        Assert.Equal(max, tests.Sum(t => (int)t["max-score"]!));
    }
}

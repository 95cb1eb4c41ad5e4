using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Workbook.Release;

namespace Workbook.Tests.Release;

/// <summary>
/// The whole course cycle on the real repository, with the instructor guide's own commands: release → validate-release
/// (the student copy builds, its graded tests fail, the solutions score full marks) → grade the untouched copy (0) →
/// copy the solutions in and change a test file → grade (full marks, tampering reported) → Gradescope's shape.
/// Slow: about five dotnet builds and test runs (a few minutes).
/// </summary>
public sealed class CourseCycleTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void Release_validate_and_grade_as_the_instructor_guide_says()
    {
        var root = Repository.FindRoot(AppContext.BaseDirectory)!;
        var variables = new Dictionary<string, string>
        {
            ["RELEASE"] = temp.File("release"),
            ["AUTOGRADER"] = temp.File("autograder"),
            ["MANIFEST"] = temp.File("manifest.json"),
            ["SUBMISSION"] = temp.File("alice"),
            ["OUT"] = temp.File("grades"),
        };
        var guide = GuideCommands(File.ReadAllText(Path.Combine(root, "docs", "instructor-guide.md")), variables);
        var clock = Stopwatch.StartNew();

        Assert.Equal(0, Run(guide, "release"));
        Assert.True(File.Exists(Path.Combine(variables["RELEASE"], GradingFiles.WorkflowPath)));
        Assert.True(File.Exists(Path.Combine(variables["AUTOGRADER"], GradingFiles.AutograderFile)));
        Assert.False(Directory.Exists(Path.Combine(variables["RELEASE"], "tests", "Exercises.Tests", "HiddenTraces")));
        File.Copy(Path.Combine(variables["RELEASE"], StudentRelease.ManifestFile), variables["MANIFEST"]); // the guide's cp
        Assert.Equal(0, Run(guide, "validate-release"));

        // A student who changed nothing scores 0, hidden tests included.
        CopyTree(variables["RELEASE"], variables["SUBMISSION"]);
        Assert.Equal(0, Run(guide, "grade"));
        var untouched = JsonNode.Parse(File.ReadAllText(Path.Combine(variables["OUT"], "results.json")))!.AsObject();
        AssertGradescopeShape(untouched);
        Assert.Equal(0, (int)untouched["score"]!);
        Assert.Contains(untouched["tests"]!.AsArray(), t => (string?)t!["visibility"] == "hidden");

        // The solutions score full marks; a changed test file is reported.
        foreach (var source in Directory.EnumerateFiles(Path.Combine(root, "lessons", "Exercises"), "*.cs"))
            File.Copy(source, Path.Combine(variables["SUBMISSION"], "lessons", "Exercises", Path.GetFileName(source)), overwrite: true);
        var changed = Directory.EnumerateFiles(Path.Combine(variables["SUBMISSION"], "tests", "Exercises.Tests"), "Ex01*Tests.cs").Single();
        File.AppendAllText(changed, "// made easier\n");
        Assert.Equal(0, Run(guide, "grade"));
        var solved = JsonNode.Parse(File.ReadAllText(Path.Combine(variables["OUT"], "results.json")))!.AsObject();
        AssertGradescopeShape(solved);
        var tests = solved["tests"]!.AsArray();
        Assert.All(tests, t => Assert.True((int)t!["max_score"]! == (int)t["score"]!, $"{t["name"]}: {t["score"]}/{t["max_score"]}\n{t["output"]}"));
        Assert.Equal(tests.Sum(t => (int)t!["max_score"]!), (int)solved["score"]!);
        Assert.Contains("TAMPERING", (string)solved["output"]!);
        Assert.Contains($"changed: tests/Exercises.Tests/{Path.GetFileName(changed)}", (string)solved["output"]!);
        var feedback = File.ReadAllText(Path.Combine(variables["OUT"], "feedback.md"));
        Assert.Contains("## Lesson 01:", feedback);
        Assert.Contains("TAMPERING", feedback);

        Console.WriteLine($"course cycle: {clock.Elapsed.TotalSeconds:F0} s");
    }

    /// <summary>The guide's workbook commands by name, with its shell variables replaced.</summary>
    static Dictionary<string, string[]> GuideCommands(string guide, Dictionary<string, string> variables)
    {
        const string Prefix = "dotnet run --project lessons/Workbook -- ";
        var commands = new Dictionary<string, string[]>();
        foreach (var line in guide.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(Prefix, StringComparison.Ordinal) && !l.Contains("COMMAND")))
        {
            var args = line[Prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(a => Regex.Replace(a.Trim('"'), @"\$(\w+)", m => variables[m.Groups[1].Value]))
                .ToArray();
            commands[args[0]] = args;
        }
        Assert.Equal(["check", "grade", "release", "validate-release"], commands.Keys.Order(StringComparer.Ordinal)); // check: CheckCommandTests
        return commands;
    }

    static int Run(Dictionary<string, string[]> guide, string command) => Program.Main(guide[command]);

    static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
                continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(to, relative))!);
            File.Copy(file, Path.Combine(to, relative));
        }
    }

    /// <summary>The shape Gradescope documents for results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/).</summary>
    static void AssertGradescopeShape(JsonObject results)
    {
        string[] topLevel = ["score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"];
        string[] perTest = ["score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"];
        string[] visibilities = ["visible", "hidden", "after_due_date", "after_published"];
        Assert.All(results.Select(p => p.Key), key => Assert.Contains(key, topLevel));
        Assert.True(results["score"]!.GetValueKind() == System.Text.Json.JsonValueKind.Number);
        var tests = results["tests"]!.AsArray();
        Assert.NotEmpty(tests);
        foreach (var test in tests.Select(t => t!.AsObject()))
        {
            Assert.All(test.Select(p => p.Key), key => Assert.Contains(key, perTest));
            Assert.False(string.IsNullOrEmpty((string?)test["name"]));
            Assert.InRange((double)test["score"]!, 0, (double)test["max_score"]!);
            Assert.Contains((string)test["status"]!, new[] { "passed", "failed" });
            Assert.Contains((string)test["visibility"]!, visibilities);
            Assert.IsType<string>((string?)test["output"]);
        }
        if (results["stdout_visibility"] is { } stdout)
            Assert.Contains((string)stdout!, visibilities);
    }
}

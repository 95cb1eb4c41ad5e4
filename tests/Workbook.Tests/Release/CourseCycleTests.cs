using System.Diagnostics;
using System.Text.Json.Nodes;
using Workbook.Release;

namespace Workbook.Tests.Release;

/// <summary>
/// The whole course cycle on the real repository, with the instructor guide's own commands: release → validate-release
/// (the student copy builds, its graded tests fail, the solutions score full marks) → grade a solved copy with a changed
/// test file (full marks, tampering reported) → grade a batch: the solved copy, the untouched release (0), a zip whose
/// code does not compile, an empty folder and a file that is not a zip (a row each, the batch goes on).
/// Slow: about six dotnet builds and test runs (a few minutes).
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
            ["CLASSROOM50"] = temp.File("classroom50"),
            ["MANIFEST"] = temp.File("manifest.json"),
            ["SUBMISSION"] = temp.File("alice"),
            ["OUT"] = temp.File("grades"),
            ["SUBMISSIONS"] = temp.File("submissions"),
            ["GRADEBOOK"] = temp.File("gradebook"),
            ["GRADESCOPE"] = temp.File("gradescope"),
            ["AG"] = temp.File("autograder"),
        };
        Assert.Equal(variables.Keys.Order(StringComparer.Ordinal), InstructorGuide.Variables.Order(StringComparer.Ordinal));
        var guide = InstructorGuide.Commands(variables);
        // gradescope --out: GradescopeAutograderTests; check: CheckCommandTests.
        Assert.Equal(["check", "grade --submission", "grade --submissions", "gradescope --out", "release --out", "validate-release"], guide.Keys.Order(StringComparer.Ordinal));
        var clock = Stopwatch.StartNew();

        RunOk(guide, "release --out");
        Assert.True(File.Exists(Path.Combine(variables["RELEASE"], GradingFiles.WorkflowPath)));
        Assert.True(File.Exists(Path.Combine(variables["CLASSROOM50"], GradingFiles.AutograderFile)));
        Assert.False(Directory.Exists(Path.Combine(variables["RELEASE"], "tests", "Exercises.Tests", "HiddenTraces")));
        File.Copy(Path.Combine(variables["RELEASE"], StudentRelease.ManifestFile), variables["MANIFEST"]); // the guide's cp
        RunOk(guide, "validate-release");

        // The solutions score full marks; a changed test file is reported.
        CopyTree(variables["RELEASE"], variables["SUBMISSION"]);
        foreach (var source in Directory.EnumerateFiles(Path.Combine(root, "lessons", "Exercises"), "*.cs"))
            File.Copy(source, Path.Combine(variables["SUBMISSION"], "lessons", "Exercises", Path.GetFileName(source)), overwrite: true);
        var changed = Directory.EnumerateFiles(Path.Combine(variables["SUBMISSION"], "tests", "Exercises.Tests"), "Ex01*Tests.cs").Single();
        File.AppendAllText(changed, "// made easier\n");
        RunOk(guide, "grade --submission");
        var solved = JsonNode.Parse(File.ReadAllText(Path.Combine(variables["OUT"], "results.json")))!.AsObject();
        GradescopeSpec.AssertShape(solved);
        var tests = solved["tests"]!.AsArray();
        Assert.All(tests, t => Assert.True((int)t!["max_score"]! == (int)t["score"]!, $"{t["name"]}: {t["score"]}/{t["max_score"]}\n{t["output"]}"));
        Assert.Equal(tests.Sum(t => (int)t!["max_score"]!), (int)solved["score"]!);
        Assert.Contains(tests, t => (string?)t!["visibility"] == "after_due_date");
        Assert.Contains("TAMPERING", (string)solved["output"]!);
        Assert.Contains($"changed: tests/Exercises.Tests/{Path.GetFileName(changed)}", (string)solved["output"]!);
        var feedback = File.ReadAllText(Path.Combine(variables["OUT"], "feedback.md"));
        Assert.Contains("## Lesson 01:", feedback);
        Assert.Contains("TAMPERING", feedback);

        // A batch: solved, untouched (stubs), a zip that does not compile, an empty folder, a "zip" that is not one.
        var submissions = variables["SUBMISSIONS"];
        CopyTree(variables["SUBMISSION"], Path.Combine(submissions, "alice"));
        CopyTree(variables["RELEASE"], Path.Combine(submissions, "bob"));
        var carol = temp.File("carol");
        CopyTree(variables["RELEASE"], carol);
        File.WriteAllText(Path.Combine(carol, "lessons", "Exercises", "Ex01AddressSpace.cs"), "namespace Exercises;\npublic static class Broken {\n");
        System.IO.Compression.ZipFile.CreateFromDirectory(carol, Path.Combine(submissions, "carol.zip"), System.IO.Compression.CompressionLevel.Fastest, includeBaseDirectory: true);
        Directory.CreateDirectory(Path.Combine(submissions, "dave"));
        File.WriteAllText(Path.Combine(submissions, "eve.zip"), "not a zip at all");
        File.WriteAllText(Path.Combine(submissions, "notes.txt"), "not a submission");
        RunOk(guide, "grade --submissions");
        var rows = File.ReadAllLines(Path.Combine(variables["GRADEBOOK"], "gradebook.csv"));
        Assert.StartsWith("student,lesson 01,lesson 02,", rows[0]);
        Assert.EndsWith(",total,possible,status,detail", rows[0]);
        var byStudent = rows.Skip(1).ToDictionary(r => r.Split(',')[0], r => r.Split(','));
        Assert.Equal(["alice", "bob", "carol", "dave", "eve"], byStudent.Keys);
        var possible = (int)solved["score"]!;
        int Column(string name) => Array.IndexOf(rows[0].Split(','), name);
        string Feedback(string student) => File.ReadAllText(Path.Combine(variables["GRADEBOOK"], student, "feedback.md"));
        Assert.True(byStudent["alice"][Column("total")..(Column("status") + 1)].SequenceEqual([$"{possible}", $"{possible}", "built"]),
            $"{string.Join(',', byStudent["alice"])}\n{Feedback("alice")}");
        Assert.Equal(["0", $"{possible}", "built"], byStudent["bob"][Column("total")..(Column("status") + 1)]);
        Assert.Equal(["0", $"{possible}", "failed to build"], byStudent["carol"][Column("total")..(Column("status") + 1)]);
        Assert.Equal("nothing to grade", byStudent["dave"][Column("status")]);
        Assert.Equal("nothing to grade", byStudent["eve"][Column("status")]);
        Assert.Contains("cannot read eve.zip", string.Join(',', byStudent["eve"]));
        foreach (var student in byStudent.Keys)
        {
            Assert.True(File.Exists(Path.Combine(variables["GRADEBOOK"], student, "feedback.md")), student);
            GradescopeSpec.AssertShape(JsonNode.Parse(File.ReadAllText(Path.Combine(variables["GRADEBOOK"], student, "results.json")))!.AsObject());
        }
        var carolOutput = (string)JsonNode.Parse(File.ReadAllText(Path.Combine(variables["GRADEBOOK"], "carol", "results.json")))!["output"]!;
        Assert.Contains("lessons/Exercises/Ex01AddressSpace.cs(", carolOutput);
        Assert.Contains("error CS", carolOutput);

        Console.WriteLine($"course cycle: {clock.Elapsed.TotalSeconds:F0} s");
    }

    // Runs a guide command in this process; on a non-zero exit the failure shows what it printed.
    static void RunOk(Dictionary<string, string[]> guide, string command)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        var printed = new StringWriter();
        Console.SetOut(printed);
        Console.SetError(printed);
        int code;
        try { code = Program.Main(guide[command]); }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
        Assert.True(code == 0, $"{command}: exit {code}\n{printed}");
    }

    internal static void CopyTree(string from, string to)
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
}

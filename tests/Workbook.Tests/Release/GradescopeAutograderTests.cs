using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json.Nodes;
using TestTools;
using Workbook.Release;

namespace Workbook.Tests.Release;

/// <summary>
/// Gradescope's autograder for real, as the instructor guide tries it: the guide's gradescope command writes the zip, its
/// shell lines unpack it into a stand-in for /autograder, run setup.sh (the SDK is here, so it installs nothing; the
/// restore goes through nuget.config) and run_autograder on the solutions; then run_autograder again on flat uploads of
/// the stubs and of a file that does not compile. As root, so the student's code runs as the user "student" (created
/// on this machine if missing, and left there). Slow: one build by setup.sh and three incremental ones.
/// </summary>
public sealed class GradescopeAutograderTests : IDisposable
{
    readonly TempFolder temp = new();

    public void Dispose() => temp.Dispose();

    static readonly string Root = Repository.FindRoot(AppContext.BaseDirectory)!;

    [RequiresTool(Tool.RootSetpriv, Tool.Unzip)]
    public void The_autograder_grades_solutions_stubs_and_code_that_does_not_compile_as_the_guide_tries_it()
    {
        File.SetUnixFileMode(temp.Path, (UnixFileMode)0b111_101_101); // the user "student" must reach the packages in it
        var variables = new Dictionary<string, string>
        {
            ["GRADESCOPE"] = temp.File("gradescope"),
            ["AG"] = temp.File("autograder"),
            ["SUBMISSION"] = temp.File("alice"),
        };
        var exercises = Directory.EnumerateFiles(Path.Combine(Root, "lessons", "Exercises"), "*.cs").Order(StringComparer.Ordinal).ToList();
        Directory.CreateDirectory(Path.Combine(variables["SUBMISSION"], "lessons", "Exercises"));
        foreach (var file in exercises)
            File.Copy(file, Path.Combine(variables["SUBMISSION"], "lessons", "Exercises", Path.GetFileName(file)));
        var clock = Stopwatch.StartNew();

        Assert.Equal(0, Program.Main(InstructorGuide.Commands(variables.ToDictionary(v => v.Key, v => v.Value))["gradescope --out"]));
        var zip = Path.Combine(variables["GRADESCOPE"], GradescopeAutograder.ZipName);
        using (var archive = ZipFile.OpenRead(zip))
        {
            var names = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("setup.sh", names);
            Assert.Contains("run_autograder", names);
            Assert.All(archive.Entries.Where(e => e.FullName is "setup.sh" or "run_autograder"), e => Assert.Equal(0x81ED, (e.ExternalAttributes >> 16) & 0xFFFF));
            Assert.Contains($"course/{Grader.FileList}", names);
            using (var setup = new StreamReader(archive.GetEntry("setup.sh")!.Open()))
                Assert.Contains(string.Join(' ', Grader.BuildProperties), setup.ReadToEnd()); // so grading rebuilds only the student's code
            Assert.Contains("course/tests/Exercises.Tests/HiddenTraces/", string.Join('\n', names));
            Assert.DoesNotContain(names, n => n.Contains("/bin/") || n.Contains("/obj/") || n.Contains(".git/") || n.StartsWith("course/notebooks/"));
            foreach (var entry in archive.Entries.Where(e => e.FullName.StartsWith("course/lessons/Exercises/") && e.Name.EndsWith(".cs")))
            {
                using var reader = new StreamReader(entry.Open());
                Assert.DoesNotContain("BEGIN SOLUTION", reader.ReadToEnd());
            }
        }

        // The guide's trial: unpack, setup.sh, the solutions flat, run_autograder, cat results.json.
        var trial = InstructorGuide.Bash(InstructorGuide.Script("run_autograder"), variables, TimeSpan.FromMinutes(8));
        Assert.True(trial.ExitCode == 0, $"{trial.Stdout}\n{trial.Stderr}");
        Assert.Contains("setup.sh: a .NET 10 SDK is installed", trial.Stdout);
        var solved = Results(variables["AG"]);
        Assert.Equal(solved.ToJsonString(), JsonNode.Parse(trial.Stdout[trial.Stdout.LastIndexOf("\n{", StringComparison.Ordinal)..])!.ToJsonString());
        var tests = solved["tests"]!.AsArray();
        Assert.All(tests, t => Assert.True((int)t!["score"]! == (int)t["max_score"]!, $"{t["name"]}: {t["output"]}"));
        Assert.Equal(tests.Sum(t => (int)t!["max_score"]!), (int)solved["score"]!);
        Assert.Contains(tests, t => (string?)t!["visibility"] == "after_due_date");
        Assert.Contains(tests, t => (string?)t!["visibility"] == "visible");
        Assert.All(tests, t => Assert.StartsWith($"Lesson {((string)t!["name"]!)[7..9]}", (string)t["tags"]![0]!));
        Assert.Equal("md", (string)solved["output_format"]!);
        Assert.Contains("| Lesson | Tests passed | Points |", (string)solved["output"]!);
        Assert.True((int)solved["execution_time"]! > 0);
        var leaderboard = solved["leaderboard"]!.AsArray();
        Assert.Equal(["Utilization (%)", "Throughput (Kops/s)", "Malloc-lab score"], leaderboard.Select(e => (string)e!["name"]!));
        Assert.All(leaderboard, e => Assert.True((double)e!["value"]! > 0, e.ToJsonString()));
        var solvedSeconds = (int)solved["execution_time"]!;

        // The stubs, flat: 0, every test reported, nothing crashed.
        var submission = Path.Combine(variables["AG"], "submission");
        Upload(submission, exercises.ToDictionary(f => Path.GetFileName(f), f => Grader.Stub(Root, Path.GetRelativePath(Root, f))));
        var stubs = RunAutograder(variables);
        Assert.Equal(0, (int)stubs["score"]!);
        Assert.Equal(tests.Count, stubs["tests"]!.AsArray().Count);
        Assert.Contains(stubs["tests"]!.AsArray(), t => ((string)t!["output"]!).Contains("not implemented yet"));
        Assert.DoesNotContain("autograder failed", (string)stubs["output"]!);
        if (stubs["leaderboard"] is { } stubBoard)
            Assert.All(stubBoard.AsArray(), e => Assert.Equal(0, (double)e!["value"]!));

        // A file that does not compile: 0 of everything, the compiler's error shown with its path in the upload's terms.
        Upload(submission, new() { ["Ex01AddressSpace.cs"] = "namespace Exercises;\npublic static class Ex01AddressSpace {\n"u8.ToArray() });
        var broken = RunAutograder(variables);
        Assert.Equal(0, (int)broken["score"]!);
        Assert.Equal((int)solved["score"]!, broken["tests"]!.AsArray().Sum(t => (int)t!["max_score"]!));
        Assert.Matches(@"lessons/Exercises/Ex01AddressSpace\.cs\(\d+,\d+\): error CS\d+", (string)broken["output"]!);
        Assert.False(broken.ContainsKey("leaderboard"));
        Assert.Equal("root", Owner(Path.Combine(variables["AG"], "results", "results.json"))); // the student's code cannot touch it

        Console.WriteLine($"gradescope autograder: {clock.Elapsed.TotalSeconds:F0} s (solutions graded in {solvedSeconds} s)");
    }

    static void Upload(string submission, Dictionary<string, byte[]> files)
    {
        Directory.Delete(submission, recursive: true);
        Directory.CreateDirectory(submission);
        foreach (var (name, bytes) in files)
            File.WriteAllBytes(Path.Combine(submission, name), bytes);
    }

    /// <summary>The guide's run_autograder line, then results.json (checked against Gradescope's spec).</summary>
    static JsonObject RunAutograder(Dictionary<string, string> variables)
    {
        var run = InstructorGuide.Bash(InstructorGuide.Line("run_autograder\""), variables, TimeSpan.FromMinutes(10));
        Assert.True(run.ExitCode == 0, $"{run.Stdout}\n{run.Stderr}");
        return Results(variables["AG"]);
    }

    static JsonObject Results(string autograder)
    {
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(autograder, "results", "results.json")))!.AsObject();
        GradescopeSpec.AssertShape(results);
        return results;
    }

    static string Owner(string path) => TestSupport.RunProcess("stat", ["-c", "%U", path], "/", TimeSpan.FromSeconds(10)).Stdout.Trim();
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Release;

/// <summary>One graded test of a run, as the "grade" logger writes it (its JSON).</summary>
public sealed record TestGrade(int Lesson, string Name, int Points, int Max, string Outcome, string? Message, bool Hidden)
{
    public bool Passed => Outcome == "Passed";

    /// <summary>The test's class and method, without the namespace: "Ex01AddressSpaceTests.ParsesALine".</summary>
    public string ShortName => string.Join('.', Name.Split('(')[0].Split('.').TakeLast(2));
}

/// <summary>A graded submission. <see cref="Possible"/> counts every graded test of the instructor's tests, also
/// when the submission does not build (then <see cref="Tests"/> is empty and <see cref="BuildLog"/> says why).</summary>
public sealed record Grades(IReadOnlyList<TestGrade> Tests, int Earned, int Possible, IReadOnlyList<string> Tampering, string? BuildLog);

/// <summary>
/// Grades a submission as nbgrader's autograde does: the student's lessons/Exercises/**.cs go into a fresh copy of the
/// instructor's repository (its tests, hidden ones included, its grading logger, its libraries), and
/// <c>dotnet test tests/Exercises.Tests --logger "grade;json=…"</c> runs there. Nothing else of the submission is
/// used, so changed tests cannot change the grade; <see cref="Tampering"/> reports them against the release manifest.
/// </summary>
public static class Grader
{
    public static readonly TimeSpan TestTimeout = TimeSpan.FromMinutes(20);

    public static Grades Grade(string instructorRoot, string submission, string? manifest)
    {
        var tampering = manifest is null ? [] : Tampering(submission, manifest);
        var workspace = Directory.CreateTempSubdirectory("workbook-grade-").FullName;
        try
        {
            var files = StudentRelease.TrackedFiles(instructorRoot)
                .Where(path => !path.StartsWith(".ci/", StringComparison.Ordinal) && !IsExerciseSource(path))
                .ToList();
            foreach (var path in files)
                Copy(Path.Combine(instructorRoot, path), Path.Combine(workspace, path));
            var exercises = Path.Combine(submission, "lessons", "Exercises");
            if (Directory.Exists(exercises))
                foreach (var source in Directory.EnumerateFiles(exercises, "*.cs", SearchOption.AllDirectories))
                {
                    var relative = Path.GetRelativePath(submission, source).Replace('\\', '/');
                    if (!relative.Split('/').Any(part => part is "bin" or "obj"))
                        Copy(source, Path.Combine(workspace, relative));
                }
            var possible = GradedSources.PointsPerLesson(files.Where(p => p.StartsWith("tests/", StringComparison.Ordinal))
                .ToDictionary(p => p, p => File.ReadAllBytes(Path.Combine(instructorRoot, p)))).Values.Sum();
            var (tests, log) = RunGradedTests(workspace);
            return tests is null
                ? new Grades([], 0, possible, tampering, log)
                : new Grades(tests, tests.Sum(t => t.Points), tests.Sum(t => t.Max), tampering, null);
        }
        finally
        {
            Directory.Delete(workspace, recursive: true);
        }
    }

    /// <summary>The student's part of the repository: the exercise sources (the project file stays the instructor's).</summary>
    static bool IsExerciseSource(string path) =>
        path.StartsWith("lessons/Exercises/", StringComparison.Ordinal) && path.EndsWith(".cs", StringComparison.Ordinal);

    /// <summary>
    /// Runs the graded tests of the repository at <paramref name="root"/> and reads the grade logger's JSON:
    /// null (and the end of the output) when there is none, e.g. because the code does not build.
    /// </summary>
    public static (IReadOnlyList<TestGrade>? Tests, string Output) RunGradedTests(string root, bool noBuild = false)
    {
        var json = Path.Combine(Directory.CreateTempSubdirectory("workbook-grades-").FullName, "grades.json");
        try
        {
            string[] args = ["test", "tests/Exercises.Tests", "--disable-build-servers", "--logger", $"grade;json={json}"];
            var (_, output) = Dotnet(root, noBuild ? [.. args, "--no-build"] : args);
            return (File.Exists(json) ? Parse(File.ReadAllText(json)) : null, Tail(output, 60));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(json)!, recursive: true);
        }
    }

    public static IReadOnlyList<TestGrade> Parse(string json)
    {
        var root = JsonNode.Parse(json)!;
        return root["tests"]!.AsArray().Select(t => new TestGrade(
            (int)t!["lesson"]!, (string)t["name"]!, (int)t["points"]!, (int)t["max"]!, (string)t["outcome"]!,
            (string?)t["message"], (bool)t["hidden"]!)).ToList();
    }

    /// <summary>How the submission's tests/** differ from the release manifest ("changed: tests/…", "missing: …", "added: …").</summary>
    public static IReadOnlyList<string> Tampering(string submission, string manifestPath)
    {
        var expected = JsonNode.Parse(File.ReadAllText(manifestPath))!["tests"]!.AsObject()
            .ToDictionary(p => p.Key, p => (string)p.Value!, StringComparer.Ordinal);
        var found = new List<string>();
        var tests = Path.Combine(submission, "tests");
        var present = Directory.Exists(tests)
            ? Directory.EnumerateFiles(tests, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(submission, f).Replace('\\', '/'))
                .Where(p => !p.Split('/').Any(part => part is "bin" or "obj" or "TestResults"))
                .ToHashSet(StringComparer.Ordinal)
            : [];
        foreach (var (path, sha) in expected.OrderBy(p => p.Key, StringComparer.Ordinal))
            if (!present.Contains(path))
                found.Add($"missing: {path}");
            else if (StudentRelease.Sha256(File.ReadAllBytes(Path.Combine(submission, path))) != sha)
                found.Add($"changed: {path}");
        found.AddRange(present.Where(p => !expected.ContainsKey(p)).Order(StringComparer.Ordinal).Select(p => $"added: {p}"));
        return found;
    }

    /// <summary>Runs dotnet with the given arguments in <paramref name="directory"/>; the exit code and stdout+stderr.</summary>
    public static (int ExitCode, string Output) Dotnet(string directory, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", args)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TestTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, $"dotnet {string.Join(' ', args)} did not finish within {TestTimeout.TotalMinutes} minutes\n{stdout.Result}{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    static void Copy(string source, string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(source, target, overwrite: true);
    }

    static string Tail(string text, int lines) =>
        string.Join('\n', text.Split('\n').TakeLast(lines));
}

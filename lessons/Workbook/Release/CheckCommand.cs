using System.Globalization;
using System.Text;

namespace Workbook.Release;

/// <summary>
/// <c>workbook check NN</c>: runs lesson NN's visible graded tests on the exercises as they are (building the tests
/// first when a source is newer than the build) and prints each test with its points and each failure's message. The
/// last cell of every notebook runs it in a child process (Lessons.ExerciseCheck), so a crashing exercise cannot stop
/// the kernel. Where the solutions are present (the instructor's repository) it also prints a claim line, "yes" when
/// they pass every test and "NO" when not, which makes the notebook run fail; a student's copy gets no claim line.
/// </summary>
static class CheckCommand
{
    const string Usage = """
        usage: workbook check LESSON
          Runs lesson LESSON's visible graded tests (dotnet test tests/Exercises.Tests --filter "Lesson=NN&Hidden!=true")
          on the code in lessons/Exercises, building the tests first when a source is newer, and prints each test with
          its points and why each failed one failed. Hidden tests never run.
        Exit code: 0 every test passed, 1 a test failed or the code does not build, 2 usage error.

        """;

    const int MessageLines = 8;

    static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(5);

    public static int Execute(string[] args)
    {
        if (args is ["-h" or "--help"]) return Print(Console.Out, Usage, 0);
        if (args is not [var number] || !int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int lesson) || lesson is < 1 or > 99)
            return Print(Console.Error, Usage, 2);
        var root = Repository.FindRoot() ?? Repository.FindRoot(AppContext.BaseDirectory);
        if (root is null)
        {
            Console.Error.WriteLine($"check: no {Repository.SolutionFile} above {Environment.CurrentDirectory} or the workbook");
            return 1;
        }
        var (text, passed) = Check(root, lesson);
        Console.Write(text);
        return passed ? 0 : 1;
    }

    /// <summary>The report of lesson <paramref name="lesson"/>'s check, and whether every visible graded test passed.</summary>
    public static (string Text, bool Passed) Check(string root, int lesson)
    {
        string nn = lesson.ToString("00", CultureInfo.InvariantCulture);
        var expected = GradedSources.Tests(Sources(root, "tests/Exercises.Tests")).Where(t => t.Lesson == lesson && !t.Hidden).ToList();
        var text = new StringBuilder();
        if (expected.Count == 0)
            return ($"Lesson {nn} has no graded tests.\n", false);
        bool solutions = Sources(root, "lessons/Exercises").Any(f => Path.GetFileName(f.Key).StartsWith($"Ex{nn}", StringComparison.Ordinal)
            && Encoding.UTF8.GetString(f.Value).Contains(Markers.BeginSolution, StringComparison.Ordinal));
        int possible = expected.Sum(t => t.Points);

        bool passed;
        if (EnsureBuilt(root) is { } buildErrors)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Lesson {nn}: the code does not build, so its {expected.Count} graded tests score 0/{possible}. The build errors:");
            text.AppendLine(buildErrors);
            passed = false;
        }
        else
        {
            var (tests, output) = Run(root, nn);
            var byName = (tests ?? []).Where(t => !t.Hidden).ToDictionary(t => t.Name, StringComparer.Ordinal);
            var rows = expected.Select(t => (Source: t, Result: byName.GetValueOrDefault(t.Name))).ToList();
            int earned = rows.Sum(r => r.Result?.Points ?? 0), count = rows.Count(r => r.Result?.Passed == true);
            passed = count == rows.Count;
            text.AppendLine(CultureInfo.InvariantCulture, $"Lesson {nn}: {count}/{rows.Count} graded tests passed, {earned}/{possible} points");
            foreach (var (source, result) in rows)
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"  {(result?.Passed == true ? "passed" : (result?.Outcome ?? "no result").ToLowerInvariant()),-9} {result?.Points ?? 0,2}/{source.Points,-2}  {ShortName(source.Name)}");
            foreach (var (source, result) in rows.Where(r => r.Result?.Passed != true))
            {
                var lines = (result?.Message ?? (result is null ? $"it did not report a result; the end of dotnet test's output:\n{output}" : result.Outcome)).Trim().Split('\n');
                text.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"{ShortName(source.Name)}:");
                foreach (var line in lines.Take(result is null ? 30 : MessageLines))
                    text.AppendLine(CultureInfo.InvariantCulture, $"  {line.TrimEnd()}");
                if (result is not null && lines.Length > MessageLines)
                    text.AppendLine("  …");
            }
        }
        if (solutions)
            text.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"{(passed ? "yes" : "NO ")}  the solutions in lessons/Exercises pass lesson {nn}'s visible graded tests");
        return (text.ToString(), passed);
    }

    static string ShortName(string name) => string.Join('.', name.Split('.').TakeLast(2));

    static (IReadOnlyList<TestGrade>? Tests, string Output) Run(string root, string nn)
    {
        var folder = Directory.CreateTempSubdirectory("workbook-check-").FullName;
        try
        {
            var json = Path.Combine(folder, "grades.json");
            var (_, output) = Grader.Dotnet(root, "test", "tests/Exercises.Tests", "--no-build", "--filter", $"Lesson={nn}&Hidden!=true",
                "--logger", $"grade;json={json}");
            return (File.Exists(json) ? Grader.Parse(File.ReadAllText(json)) : null, Tail(output, 20));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// Builds tests/Exercises.Tests when a source under lessons/ or the tests is newer than its build (one build at a time:
    /// concurrent checks wait for it and reuse it). Null when built, else the build errors.
    /// </summary>
    static string? EnsureBuilt(string root)
    {
        if (!Stale(root)) return null;
        var obj = Path.Combine(root, "tests", "Exercises.Tests", "obj");
        Directory.CreateDirectory(obj);
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                using var _ = new FileStream(Path.Combine(obj, "check-build.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                if (!Stale(root)) return null;
                var (code, output) = Grader.Dotnet(root, "build", "tests/Exercises.Tests", "--disable-build-servers");
                if (code != 0) return BuildErrors(root, output);
                File.WriteAllText(Stamp(root), ""); // an up-to-date build may write no DLL: this says when it ran
                return null;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200); // another check is building
            }
        }
    }

    static bool Stale(string root)
    {
        var bin = Path.Combine(root, "tests", "Exercises.Tests", "bin", "Debug", "net10.0");
        if (!File.Exists(Path.Combine(bin, "Exercises.Tests.dll"))) return true;
        var built = Directory.EnumerateFiles(bin, "*.dll").Append(Stamp(root)).Where(File.Exists).Max(File.GetLastWriteTimeUtc);
        return Inputs(root).Any(f => File.GetLastWriteTimeUtc(f) > built);
    }

    static string Stamp(string root) => Path.Combine(root, "tests", "Exercises.Tests", "obj", "check-build.stamp");

    /// <summary>What the test build reads: the sources under lessons/, tests/Exercises.Tests and tests/Shared, and the root's props.</summary>
    static IEnumerable<string> Inputs(string root) =>
        new[] { "lessons", "tests/Exercises.Tests", "tests/Shared" }
            .Select(f => Path.Combine(root, f)).Where(Directory.Exists)
            .SelectMany(f => Directory.EnumerateFiles(f, "*", SearchOption.AllDirectories))
            .Where(f => !Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj"))
            .Concat(Directory.EnumerateFiles(root, "*.props"));

    static Dictionary<string, byte[]> Sources(string root, string folder) =>
        Directory.Exists(Path.Combine(root, folder))
            ? Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs")
                .ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllBytes, StringComparer.Ordinal)
            : [];

    static string BuildErrors(string root, string output)
    {
        var errors = output.Split('\n').Where(l => l.Contains(": error ", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l.Trim(), @" \[[^\]]*\]$", "").Replace(root + "/", "", StringComparison.Ordinal))
            .Distinct().Take(30).ToList();
        return errors.Count > 0 ? string.Join('\n', errors.Select(e => $"  {e}")) : Tail(output, 30);
    }

    static string Tail(string text, int lines) => string.Join('\n', text.TrimEnd().Split('\n').TakeLast(lines));

    static int Print(TextWriter writer, string text, int exitCode)
    {
        writer.Write(text);
        return exitCode;
    }
}

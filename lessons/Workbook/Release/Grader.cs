using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Workbook.Release;

/// <summary>One graded test of a run, as the "grade" logger writes it (its JSON).</summary>
public sealed record TestGrade(int Lesson, string Name, int Points, int Max, string Outcome, string? Message, bool Hidden)
{
    public bool Passed => Outcome == "Passed";

    /// <summary>The test's class and method, without the namespace: "Ex01AddressSpaceTests.ParsesALine".</summary>
    public string ShortName => string.Join('.', Name.Split('(')[0].Split('.').TakeLast(2));
}

/// <summary>How grading a submission ended.</summary>
public enum GradeStatus { Built, DidNotBuild, TimedOut, Crashed, NothingToGrade }

/// <summary>A quantity of Gradescope's leaderboard (order "desc": higher ranks higher).</summary>
public sealed record LeaderboardEntry(string Name, double Value, string Order = "desc");

/// <summary>A graded submission. <see cref="Possible"/> counts every graded test of the instructor's tests, also
/// when the submission does not build (then <see cref="Tests"/> holds one unearned line per lesson and
/// <see cref="BuildLog"/> says why).</summary>
public sealed record Grades(IReadOnlyList<TestGrade> Tests, int Earned, int Possible, IReadOnlyList<string> Tampering, string? BuildLog)
{
    public GradeStatus Status { get; init; } = BuildLog is null ? GradeStatus.Built : GradeStatus.DidNotBuild;

    /// <summary>Why a run is incomplete (timed out, crashed, nothing to grade); null when it is not.</summary>
    public string? Problem { get; init; }

    /// <summary>What the intake did (files taken from unusual places, ignored files).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Lesson 05's malloc-lab figures for Gradescope's leaderboard (empty when not measured).</summary>
    public IReadOnlyList<LeaderboardEntry> Leaderboard { get; init; } = [];

    public TimeSpan Elapsed { get; init; }

    /// <summary>The status as a gradebook says it.</summary>
    public string StatusText => Status switch
    {
        GradeStatus.Built => "built",
        GradeStatus.DidNotBuild => "failed to build",
        GradeStatus.TimedOut => "timed out",
        GradeStatus.Crashed => "crashed",
        _ => "nothing to grade",
    };

    /// <summary>Points earned and possible per lesson.</summary>
    public SortedDictionary<int, (int Earned, int Possible)> ByLesson() =>
        new(Tests.GroupBy(t => t.Lesson).ToDictionary(g => g.Key, g => (g.Sum(t => t.Points), g.Sum(t => t.Max))));
}

/// <summary>How to grade: the time limit, the user the student's code runs as, lesson 05's leaderboard.</summary>
public sealed record GradeOptions
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>A user name: the student's build and tests run as that user (created if missing; needs root). Null: as this process.</summary>
    public string? RunAs { get; init; }

    public bool Leaderboard { get; init; }

    /// <summary>
    /// Grade in the course copy itself, already built (Gradescope's, built by setup.sh): only the student's files are
    /// compiled again, and the copy's exercise files are put back afterwards. Otherwise a fresh copy is built.
    /// </summary>
    public bool InPlace { get; init; }
}

/// <summary>
/// Grades a submission as nbgrader's autograde does: the student's exercise files go into a fresh copy of the
/// instructor's repository (its tests, hidden ones included, its grading logger, its libraries; exercises the student
/// did not send stay stubs), and <c>dotnet test tests/Exercises.Tests --logger "grade;json=…"</c> runs there. Nothing
/// else of the submission is used, so changed tests cannot change the grade; <see cref="Tampering"/> reports them
/// against the release manifest.
/// </summary>
public static partial class Grader
{
    public static readonly TimeSpan TestTimeout = TimeSpan.FromMinutes(20);

    /// <summary>Lists the files a course copy holds when it has no .git (the Gradescope autograder's copy).</summary>
    public const string FileList = "grading-files.txt";

    /// <summary>The time kept for lesson 05's malloc-lab run out of the time limit.</summary>
    static readonly TimeSpan LeaderboardTime = TimeSpan.FromSeconds(45);

    /// <summary>
    /// The files grading copies from the instructor's repository: its git-tracked files (or <see cref="FileList"/>),
    /// without what the graded tests do not need (CI, notebooks, docs, the other test projects).
    /// </summary>
    public static IReadOnlyList<string> CourseFiles(string root)
    {
        var list = Path.Combine(root, FileList);
        var files = File.Exists(list)
            ? File.ReadAllLines(list).Where(p => p.Length > 0 && File.Exists(Path.Combine(root, p))).ToList()
            : StudentRelease.TrackedFiles(root);
        return files.Where(IsGradingFile).ToList();
    }

    static bool IsGradingFile(string path) =>
        !new[] { ".ci/", ".github/", "executed/", "notebooks/", "docs/", "scripts/" }.Any(p => path.StartsWith(p, StringComparison.Ordinal))
        && (!path.StartsWith("tests/", StringComparison.Ordinal) || path.StartsWith("tests/Exercises.Tests/", StringComparison.Ordinal)
            || path.StartsWith("tests/Shared/", StringComparison.Ordinal) || !path[6..].Contains('/'))
        && !path.Split('/').SkipLast(1).Any(part => part is "bin" or "obj");

    /// <summary>The course's exercise file names ("Ex01AddressSpace.cs", …).</summary>
    public static IReadOnlyList<string> ExerciseNames(IEnumerable<string> courseFiles) =>
        courseFiles.Where(IsExerciseSource).Select(Path.GetFileName).OfType<string>().ToList();

    /// <summary>Grades the submission at <paramref name="submission"/> (a folder or a zip); never throws for a bad submission.</summary>
    public static Grades Grade(string courseRoot, string submission, string? manifest, GradeOptions? options = null)
    {
        var clock = Stopwatch.StartNew();
        var files = CourseFiles(courseRoot);
        var possible = PossiblePerLesson(courseRoot, files);
        Submission intake;
        try
        {
            intake = Submission.Open(submission, ExerciseNames(files));
        }
        catch (SubmissionException e)
        {
            return NothingToGrade(possible, e.Message, [], clock.Elapsed);
        }
        using (intake)
        {
            if (intake.Exercises.Count == 0)
                return NothingToGrade(possible, "no exercise file (ExNN*.cs) found in the submission", intake.Notes, clock.Elapsed);
            var tampering = manifest is not null && intake.RepositoryRoot is { } repo && Directory.Exists(Path.Combine(repo, "tests"))
                ? Tampering(repo, manifest) : [];
            return Grade(courseRoot, files, possible, intake, options ?? new GradeOptions(), clock) with { Tampering = tampering, Notes = intake.Notes };
        }
    }

    static Grades Grade(string courseRoot, IReadOnlyList<string> files, SortedDictionary<int, int> possible, Submission intake, GradeOptions options, Stopwatch clock)
    {
        var workspace = options.InPlace ? courseRoot : Directory.CreateTempSubdirectory("workbook-grade-").FullName;
        var scratch = Path.Combine(workspace, ".grading");
        var exercises = files.Where(IsExerciseSource).ToDictionary(p => p, p => Stub(courseRoot, p), StringComparer.Ordinal);
        try
        {
            if (!options.InPlace)
                foreach (var path in files.Where(p => !IsExerciseSource(p)))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(workspace, path))!);
                    File.Copy(Path.Combine(courseRoot, path), Path.Combine(workspace, path));
                }
            WriteExercises(workspace, exercises, intake.Exercises);
            var runner = new Runner(workspace, scratch, options.RunAs);
            var testTime = options.Timeout - clock.Elapsed - (options.Leaderboard ? LeaderboardTime : TimeSpan.Zero);
            var run = RunGradedTests(runner, testTime);
            var grades = Complete(run, possible, options.Timeout, workspace);
            if (options.Leaderboard && grades.Status != GradeStatus.DidNotBuild && possible.ContainsKey(5))
                grades = grades with { Leaderboard = MallocLab(runner, options.Timeout - clock.Elapsed) };
            return grades with { Elapsed = clock.Elapsed };
        }
        finally
        {
            if (options.InPlace)
            {
                WriteExercises(workspace, exercises, new Dictionary<string, byte[]>()); // the copy as it was, for the next submission
                if (Directory.Exists(scratch))
                    Directory.Delete(scratch, recursive: true);
            }
            else
                Directory.Delete(workspace, recursive: true);
        }
    }

    /// <summary>An exercise file of the course as the student copy has it: solutions stubbed (an exercise the student did not send stays a stub).</summary>
    internal static byte[] Stub(string courseRoot, string path)
    {
        var bytes = File.ReadAllBytes(Path.Combine(courseRoot, path));
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        return Markers.HasMarkers(text) ? System.Text.Encoding.UTF8.GetBytes(Markers.Strip(text, path)) : bytes;
    }

    /// <summary>Makes lessons/Exercises/**.cs the course's files (stubs) overwritten and completed by the student's.</summary>
    static void WriteExercises(string workspace, IReadOnlyDictionary<string, byte[]> course, IReadOnlyDictionary<string, byte[]> student)
    {
        var folder = Path.Combine(workspace, "lessons", "Exercises");
        foreach (var file in Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories))
        {
            var path = Path.GetRelativePath(workspace, file).Replace('\\', '/');
            if (!course.ContainsKey(path) && !path.Split('/').Any(part => part is "bin" or "obj"))
                File.Delete(file);
        }
        foreach (var (path, bytes) in course.Where(p => !student.ContainsKey(p.Key)).Concat(student))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(workspace, path))!);
            File.WriteAllBytes(Path.Combine(workspace, path), bytes);
        }
    }

    static Grades NothingToGrade(SortedDictionary<int, int> possible, string why, IReadOnlyList<string> notes, TimeSpan elapsed)
    {
        var tests = possible.Select(p => Unreported(p.Key, p.Value, "not graded: nothing to grade")).ToList();
        return new Grades(tests, 0, tests.Sum(t => t.Max), [], null) { Status = GradeStatus.NothingToGrade, Problem = why, Notes = notes, Elapsed = elapsed };
    }

    /// <summary>
    /// The run's results, with a line per lesson for the points of tests that did not report (the build failed, the
    /// time ran out, the test process crashed), so that the possible points are always the course's.
    /// </summary>
    internal static Grades Complete(TestRun run, SortedDictionary<int, int> possible, TimeSpan timeout, string workspace)
    {
        var tests = (run.Tests ?? []).ToList();
        string? buildLog = null, problem = null;
        var status = GradeStatus.Built;
        string reason;
        if (run.TimedOut)
        {
            status = GradeStatus.TimedOut;
            problem = string.Create(CultureInfo.InvariantCulture, $"The build and tests did not finish within {timeout.TotalMinutes:0.#} minutes: the tests that had finished count, the others score 0.");
            reason = "did not finish within the time limit";
        }
        else if (run.Tests is null)
        {
            status = GradeStatus.DidNotBuild;
            buildLog = CompilerErrors(run.Output, workspace);
            reason = "not graded: the submission did not build";
        }
        else
            reason = "did not report: the test run ended early (a crash of the test process?)";
        foreach (var (lesson, points) in possible)
        {
            var missing = points - tests.Where(t => t.Lesson == lesson).Sum(t => t.Max);
            if (missing > 0)
                tests.Add(Unreported(lesson, missing, reason));
        }
        if (status == GradeStatus.Built && tests.Any(t => t.Name == UnreportedName))
        {
            status = GradeStatus.Crashed;
            problem = $"Some tests did not report, and score 0. The end of the test output:\n{Tail(run.Output.Replace(workspace + "/", ""), 30)}";
        }
        tests = [.. tests.OrderBy(t => t.Lesson)];
        return new Grades(tests, tests.Sum(t => t.Points), tests.Sum(t => t.Max), [], buildLog) { Status = status, Problem = problem };
    }

    const string UnreportedName = "(tests that did not report)";

    static TestGrade Unreported(int lesson, int points, string reason) => new(lesson, UnreportedName, 0, points, "NotRun", reason, false);

    static SortedDictionary<int, int> PossiblePerLesson(string root, IEnumerable<string> files) =>
        GradedSources.PointsPerLesson(files.Where(p => p.StartsWith("tests/", StringComparison.Ordinal))
            .ToDictionary(p => p, p => File.ReadAllBytes(Path.Combine(root, p))));

    /// <summary>The student's part of the repository: the exercise sources (the project file stays the instructor's).</summary>
    static bool IsExerciseSource(string path) =>
        path.StartsWith("lessons/Exercises/", StringComparison.Ordinal) && path.EndsWith(".cs", StringComparison.Ordinal);

    [GeneratedRegex(@"^(?<file>[^\s(][^(]*)\((?<line>\d+),(?<col>\d+)\): error (?<text>\w+: .*?)(\s+\[[^\]]*\])?$", RegexOptions.Multiline)]
    private static partial Regex CompilerError();

    /// <summary>The compiler's errors, once each, with paths relative to the workspace; the end of the output when there is none.</summary>
    internal static string CompilerErrors(string output, string workspace)
    {
        var errors = CompilerError().Matches(output.Replace("\r", ""))
            .Select(m => $"{Path.GetRelativePath(workspace, m.Groups["file"].Value.Trim())}({m.Groups["line"]},{m.Groups["col"]}): error {m.Groups["text"].Value.Trim()}")
            .Distinct().ToList();
        return errors.Count == 0 ? Tail(output.Replace(workspace + "/", ""), 60)
            : string.Join('\n', errors.Take(40)) + (errors.Count > 40 ? $"\n… and {errors.Count - 40} more" : "");
    }

    /// <summary>
    /// Grading compiles without the code-style analyzers (the student's own build still runs them): less than half the
    /// compiler's time, and a style warning costs no points. setup.sh builds the Gradescope copy with the same properties.
    /// </summary>
    public static readonly string[] BuildProperties = ["-p:RunAnalyzers=false", "-p:EnforceCodeStyleInBuild=false"];

    internal sealed record TestRun(IReadOnlyList<TestGrade>? Tests, string Output, bool TimedOut);

    /// <summary>
    /// Runs the graded tests of the repository at <paramref name="root"/> and reads the grade logger's JSON:
    /// null (and the end of the output) when there is none, e.g. because the code does not build.
    /// </summary>
    public static (IReadOnlyList<TestGrade>? Tests, string Output) RunGradedTests(string root, bool noBuild = false)
    {
        var scratch = Directory.CreateTempSubdirectory("workbook-grades-").FullName;
        try
        {
            var run = RunGradedTests(new Runner(root, scratch, null), TestTimeout, noBuild);
            return (run.Tests, Tail(run.Output, 60));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    static TestRun RunGradedTests(Runner runner, TimeSpan timeout, bool noBuild = false)
    {
        var json = Path.Combine(runner.Scratch, "grades.json");
        string[] args = ["test", "tests/Exercises.Tests", "--disable-build-servers", .. BuildProperties, "--logger", $"grade;json={json}"];
        var (_, output, timedOut) = runner.Dotnet(noBuild ? [.. args, "--no-build"] : args, timeout);
        var partial = json + ".partial"; // the logger's results so far (Grading.GradeLogger.PartialSuffix)
        var found = File.Exists(json) ? json : File.Exists(partial) ? partial : null;
        return new TestRun(found is null ? null : Parse(File.ReadAllText(found)), output, timedOut);
    }

    /// <summary>Lesson 05's figures: the workspace's malloc-lab on the bundled traces with the student's allocator.</summary>
    static IReadOnlyList<LeaderboardEntry> MallocLab(Runner runner, TimeSpan timeout)
    {
        var json = Path.Combine(runner.Scratch, "malloc-lab.json");
        var cli = Path.Combine("lessons", "Workbook", "bin", "Debug", "net10.0", "Workbook.dll");
        if (timeout < TimeSpan.FromSeconds(10) || !File.Exists(Path.Combine(runner.Root, cli)))
            return [];
        runner.Dotnet([cli, "malloc-lab", "--allocator", "student", "--traces", "assets/traces", "--min-seconds", "0.05", "--json", json], timeout);
        if (!File.Exists(json))
            return []; // e.g. the allocator is a stub: no figures, no leaderboard
        try
        {
            var lab = JsonNode.Parse(File.ReadAllText(json))!;
            return
            [
                new("Utilization (%)", Math.Round(100 * ((double?)lab["utilization"] ?? 0), 1)),
                new("Throughput (Kops/s)", Math.Round(((double?)lab["ops_per_second"] ?? 0) / 1000, 1)),
                new("Malloc-lab score", Math.Round((double?)lab["score"] ?? 0, 1)),
            ];
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return []; // the student's code could write anything there
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
        var (exitCode, output, _) = new Runner(directory, null, null).Dotnet(args, TestTimeout);
        return (exitCode, output);
    }

    /// <summary>
    /// Runs dotnet in a workspace, as this process's user or (when root) as an unprivileged one that owns the
    /// workspace, with its HOME inside it; kills the whole process tree at the time limit.
    /// </summary>
    sealed class Runner
    {
        readonly (string Uid, string Gid)? user;

        /// <param name="scratch">where the logger's JSON and the user's HOME go: inside the workspace when the user must write there.</param>
        public Runner(string root, string? scratch, string? runAs)
        {
            Root = root;
            Scratch = scratch ?? root;
            if (scratch is not null)
                Directory.CreateDirectory(Path.Combine(scratch, "home"));
            if (runAs is not null && Environment.IsPrivilegedProcess)
            {
                user = EnsureUser(runAs);
                var (exit, output) = Tool("chown", "-R", $"{user.Value.Uid}:{user.Value.Gid}", root);
                if (exit != 0)
                    throw new InvalidOperationException($"cannot give {root} to {runAs}: {output.Trim()}");
            }
        }

        public string Root { get; }

        public string Scratch { get; }

        public (int ExitCode, string Output, bool TimedOut) Dotnet(string[] args, TimeSpan timeout)
        {
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
            var start = user is { } u
                ? new ProcessStartInfo("setpriv", [$"--reuid={u.Uid}", $"--regid={u.Gid}", "--clear-groups", "--", dotnet, .. args])
                : new ProcessStartInfo(dotnet, args);
            start.WorkingDirectory = Root;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;
            start.Environment["DOTNET_NOLOGO"] = "1";
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_EnableWriteXorExecute"] = "0";
            if (user is not null)
            {
                // The unprivileged user cannot read root's home: its own, and the packages NUGET_PACKAGES names (set up readable).
                start.Environment["HOME"] = start.Environment["DOTNET_CLI_HOME"] = Path.Combine(Scratch, "home");
                start.Environment["USER"] = start.Environment["LOGNAME"] = null;
            }
            if (timeout <= TimeSpan.Zero)
                return (-1, "no time left", true);
            using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (-1, string.Create(CultureInfo.InvariantCulture, $"dotnet {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s\n{stdout.Result}{stderr.Result}"), true);
            }
            return (process.ExitCode, stdout.Result + stderr.Result, false);
        }

        /// <summary>The user's uid and gid, creating it (a system user with no home and no login) when missing.</summary>
        static (string Uid, string Gid) EnsureUser(string name)
        {
            if (Tool("id", "-u", name).ExitCode != 0)
            {
                var (exit, output) = Tool("useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name);
                if (exit != 0 && Tool("id", "-u", name).ExitCode != 0)
                    throw new InvalidOperationException($"cannot create the user {name}: {output.Trim()}");
            }
            return (Tool("id", "-u", name).Output.Trim(), Tool("id", "-g", name).Output.Trim());
        }
    }

    static (int ExitCode, string Output) Tool(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })
            ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr);
    }

    static string Tail(string text, int lines) =>
        string.Join('\n', text.Split('\n').TakeLast(lines));
}

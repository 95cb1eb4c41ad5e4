using System.Globalization;

namespace Workbook.Release;

/// <summary>The grading commands: grade (one submission, or a batch), gradescope (the autograder zip), gradescope-run (inside it).</summary>
static class GradingCommands
{
    const string GradeUsage = """
        usage: workbook grade --submission PATH [--manifest FILE] [--gradescope FILE] [--feedback FILE] [--title TEXT] [--timeout SECONDS]
               workbook grade --submissions DIR --out DIR [--manifest FILE] [--timeout SECONDS]
          Grades a student's upload (a folder or a zip: the ExNN*.cs files flat, or the repository layout) with this
          repository's tests, hidden tests included; exercises it lacks stay stubs. A repository layout's test files
          are compared with the release manifest (default PATH/release-manifest.json, which the student could edit:
          pass the instructor's copy). Prints the grade table; writes Gradescope's results.json and a markdown
          feedback report when asked.
          --submissions grades every folder and .zip in DIR, each in a fresh copy, and writes OUT/gradebook.csv (a row
          per student: points per lesson, total, status) and OUT/NAME/feedback.md and results.json; a submission
          that fails to build, times out or crashes gets its row, and the batch goes on.
          --timeout: per submission (default 600 seconds).
        Exit code: 0 graded (whatever the scores), 1 an error, 2 usage error.

        """;

    const string GradescopeUsage = """
        usage: workbook gradescope --out DIR
          Writes DIR/autograder.zip, Gradescope's autograder for this course: setup.sh (installs the .NET 10 SDK if
          missing, restores and builds the course), run_autograder (grades each upload and always writes
          results.json), and the course copy (exercises as stubs, tests with the hidden ones). Upload it as the
          programming assignment's autograder (base image Ubuntu 22.04 or 24.04).
        Exit code: 0 written, 1 an error, 2 usage error.

        """;

    const string RunUsage = """
        usage: workbook gradescope-run --root DIR [--timeout SECONDS]
          What run_autograder runs: grades DIR/submission with the course copy in DIR/source/course and writes
          DIR/results/results.json (DIR is /autograder on Gradescope). As root, the student's code runs as the
          user "student". --timeout: the whole run (default 480 seconds).
        Exit code: 0 results written, 1 an error, 2 usage error.

        """;

    public static int Grade(string[] args)
    {
        if (!TryParse(args, ["--submission", "--submissions", "--out", "--manifest", "--gradescope", "--feedback", "--title", "--timeout"], out var options)
            || args.Contains("-h") || args.Contains("--help"))
            return args.Contains("-h") || args.Contains("--help") ? ReleaseCommands.Print(Console.Out, GradeUsage, 0) : ReleaseCommands.Print(Console.Error, GradeUsage, 2);
        options.TryGetValue("--manifest", out var manifest);
        if (!TryTimeout(options, 600, out var timeout)
            || options.ContainsKey("--submission") == options.ContainsKey("--submissions")
            || options.ContainsKey("--submissions") != options.ContainsKey("--out"))
            return ReleaseCommands.Print(Console.Error, GradeUsage, 2);
        if (ReleaseCommands.Root() is not { } root) return 1;
        if (manifest is not null && !File.Exists(manifest))
        {
            Console.Error.WriteLine($"grade: no release manifest at {manifest}");
            return 1;
        }
        var grading = new GradeOptions { Timeout = timeout };
        if (options.TryGetValue("--submissions", out var folder))
            return Batch(root, folder, options["--out"], manifest, grading);

        var submission = options["--submission"];
        if (!Directory.Exists(submission) && !File.Exists(submission))
        {
            Console.Error.WriteLine($"grade: {submission} is neither a folder nor a zip file");
            return 1;
        }
        if (manifest is null && Path.Combine(submission, StudentRelease.ManifestFile) is var own && File.Exists(own))
            manifest = own;
        Grades grades;
        try
        {
            grades = Grader.Grade(root, Path.GetFullPath(submission), manifest, grading);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"grade: cannot read {submission}: {e.Message}");
            return 1;
        }
        Console.Write(GradeOutputs.Table(grades));
        if (options.TryGetValue("--gradescope", out var gradescope))
            ReleaseCommands.Write(gradescope, GradeOutputs.Gradescope(grades));
        if (options.TryGetValue("--feedback", out var feedback))
            ReleaseCommands.Write(feedback, GradeOutputs.Feedback(grades, options.GetValueOrDefault("--title") ?? StudentName(submission)));
        return 0;
    }

    /// <summary>Grades every folder and zip in <paramref name="folder"/>, one at a time; a failure is a row, never the end.</summary>
    static int Batch(string root, string folder, string outDir, string? manifest, GradeOptions options)
    {
        if (!Directory.Exists(folder))
        {
            Console.Error.WriteLine($"grade: {folder} is not a folder");
            return 1;
        }
        var output = Path.GetFullPath(outDir);
        var entries = Directory.EnumerateFileSystemEntries(folder)
            .Where(e => !Path.GetFileName(e).StartsWith('.') && Path.GetFullPath(e) != output
                && (Directory.Exists(e) || e.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)))
            .Order(StringComparer.Ordinal).ToList();
        Directory.CreateDirectory(output);
        var gradebook = Path.Combine(output, "gradebook.csv");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"grading {entries.Count} submissions from {folder} (at most {options.Timeout.TotalMinutes:0.#} minutes each) into {output}"));
        var rows = new List<(string, Grades)>();
        foreach (var (entry, i) in entries.Select((e, i) => (e, i + 1)))
        {
            var name = StudentName(entry);
            Grades grades;
            try
            {
                grades = Grader.Grade(root, Path.GetFullPath(entry), manifest, options);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever went wrong with this one (a file it cannot copy, a user it cannot create), the batch goes on.
                grades = new Grades([], 0, 0, [], null) { Status = GradeStatus.Crashed, Problem = $"grading failed: {e.Message}" };
            }
            rows.Add((name, grades));
            var student = Path.Combine(output, name);
            Directory.CreateDirectory(student);
            File.WriteAllText(Path.Combine(student, "feedback.md"), GradeOutputs.Feedback(grades, name));
            File.WriteAllText(Path.Combine(student, "results.json"), GradeOutputs.Gradescope(grades));
            File.WriteAllText(gradebook, GradeOutputs.Gradebook(rows)); // after each student, so an interrupted batch keeps its rows
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{i}/{entries.Count}] {name}: {grades.Earned}/{grades.Possible}, {grades.StatusText}{(grades.Problem is { } p ? $" ({p.Split('\n')[0]})" : "")}, {grades.Elapsed.TotalSeconds:0} s"));
        }
        if (entries.Count == 0)
            File.WriteAllText(gradebook, GradeOutputs.Gradebook(rows));
        Console.WriteLine($"wrote {gradebook}");
        return 0;
    }

    static string StudentName(string entry)
    {
        var name = Path.GetFileName(Path.GetFullPath(entry).TrimEnd('/'));
        return name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;
    }

    public static int Gradescope(string[] args)
    {
        if (args is ["-h" or "--help"]) return ReleaseCommands.Print(Console.Out, GradescopeUsage, 0);
        if (args is not ["--out", var outDir]) return ReleaseCommands.Print(Console.Error, GradescopeUsage, 2);
        if (ReleaseCommands.Root() is not { } root) return 1;
        try
        {
            var (zip, files) = GradescopeAutograder.Write(root, outDir);
            Console.WriteLine($"wrote {zip}: setup.sh, run_autograder and the course ({files} files); upload it as the assignment's autograder");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or MarkerException)
        {
            Console.Error.WriteLine($"gradescope: {e.Message}");
            return 1;
        }
    }

    public static int GradescopeRun(string[] args)
    {
        if (args is ["-h" or "--help"]) return ReleaseCommands.Print(Console.Out, RunUsage, 0);
        if (!TryParse(args, ["--root", "--timeout"], out var options) || !options.ContainsKey("--root") || !TryTimeout(options, 480, out var timeout))
            return ReleaseCommands.Print(Console.Error, RunUsage, 2);
        var root = options["--root"];
        if (!Directory.Exists(root))
        {
            Console.Error.WriteLine($"gradescope-run: {root} is not a folder");
            return 1;
        }
        return GradescopeAutograder.Run(Path.GetFullPath(root), timeout, Console.Out);
    }

    /// <summary>"--name value" pairs, each name once and among <paramref name="names"/>; false for anything else.</summary>
    static bool TryParse(string[] args, string[] names, out Dictionary<string, string> options)
    {
        options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i += 2)
            if (args[i] is "-h" or "--help")
                return true;
            else if (!names.Contains(args[i]) || i + 1 >= args.Length || !options.TryAdd(args[i], args[i + 1]))
                return false;
        return true;
    }

    static bool TryTimeout(Dictionary<string, string> options, int seconds, out TimeSpan timeout)
    {
        timeout = TimeSpan.FromSeconds(seconds);
        if (!options.TryGetValue("--timeout", out var text))
            return true;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 30 or > 24 * 3600)
        {
            Console.Error.WriteLine($"--timeout takes a number of seconds from 30 to 86400, not '{text}'");
            return false;
        }
        timeout = TimeSpan.FromSeconds(value);
        return true;
    }
}

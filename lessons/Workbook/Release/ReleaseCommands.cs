namespace Workbook.Release;

/// <summary>The course workflow's commands: release, validate-release (grading: <see cref="GradingCommands"/>).</summary>
static class ReleaseCommands
{
    const string ReleaseUsage = """
        usage: workbook release --out DIR [--classroom50 BUNDLE]
          Writes the student copy of this repository (its git-tracked files) into DIR, a new folder outside it:
          solutions become NotImplementedException stubs, hidden tests and instructor-only files are left out,
          notebook outputs are cleared, .github/workflows/grade.yml is written (plain GitHub Actions: the grade table
          in the job summary), and DIR/release-manifest.json records the SHA-256 of every test file. Keep a copy of
          the manifest for grading. --classroom50 also writes the Classroom 50 autograder (autograder.py and
          graded-tests.json) into BUNDLE, a new folder: CLASSROOM/autograders/ASSIGNMENT/ of your classroom50 repository.
        Exit code: 0 written, 1 a malformed marker or an error (nothing written), 2 usage error.

        """;

    const string ValidateUsage = """
        usage: workbook validate-release DIR
          Checks a release: it builds, every graded test in it fails with the stub's message, nothing hidden or
          instructor-only is in it, and this repository's solutions score full marks. Slow: it builds twice.
        Exit code: 0 valid, 1 problems (listed), 2 usage error.

        """;

    public static int Release(string[] args)
    {
        if (args is ["-h" or "--help"]) return Print(Console.Out, ReleaseUsage, 0);
        string? outDir = null, bundle = null;
        for (var i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length || args[i + 1].StartsWith('-')) return Print(Console.Error, ReleaseUsage, 2);
            if (args[i] == "--out" && outDir is null) outDir = args[i + 1];
            else if (args[i] == "--classroom50" && bundle is null) bundle = args[i + 1];
            else return Print(Console.Error, ReleaseUsage, 2);
        }
        if (outDir is null) return Print(Console.Error, ReleaseUsage, 2);
        if (Root() is not { } root) return 1;
        try
        {
            var result = StudentRelease.Write(root, outDir, bundle);
            Console.WriteLine($"released {result.Files} files to {Path.GetFullPath(outDir)}: {result.Stubs} solutions stubbed, {result.HiddenRegions} hidden test regions removed");
            Console.WriteLine($"left out: {string.Join(", ", result.LeftOut.Count == 0 ? ["nothing"] : result.LeftOut)}");
            Console.WriteLine($"manifest: {Path.Combine(Path.GetFullPath(outDir), StudentRelease.ManifestFile)}");
            if (bundle is not null)
                Console.WriteLine($"Classroom 50 autograder: {Path.GetFullPath(bundle)}");
            return 0;
        }
        catch (Exception e) when (e is MarkerException or IOException or InvalidOperationException)
        {
            Console.Error.WriteLine($"release: {e.Message}");
            return 1;
        }
    }

    public static int Validate(string[] args)
    {
        if (args is ["-h" or "--help"]) return Print(Console.Out, ValidateUsage, 0);
        if (args is not [var release] || release.StartsWith('-')) return Print(Console.Error, ValidateUsage, 2);
        if (Root() is not { } root) return 1;
        if (!Directory.Exists(release))
        {
            Console.Error.WriteLine($"validate-release: {release} is not a folder");
            return 1;
        }
        if (!File.Exists(Path.Combine(release, StudentRelease.ManifestFile)))
        {
            Console.Error.WriteLine($"validate-release: {release} is not a student copy: it has no {StudentRelease.ManifestFile} (release --out writes one)");
            return 1;
        }
        var problems = ReleaseValidator.Validate(root, Path.GetFullPath(release), Console.Out);
        foreach (var problem in problems)
            Console.Error.WriteLine($"problem: {problem}");
        Console.WriteLine(problems.Count == 0 ? "the release is valid" : $"{problems.Count} problem(s)");
        return problems.Count == 0 ? 0 : 1;
    }

    internal static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, text);
        Console.WriteLine($"wrote {path}");
    }

    internal static string? Root()
    {
        var root = Repository.FindRoot();
        if (root is null)
            Console.Error.WriteLine($"run this from the instructor's repository (no {Repository.SolutionFile} above {Environment.CurrentDirectory})");
        return root;
    }

    internal static int Print(TextWriter writer, string text, int exitCode)
    {
        writer.Write(text);
        return exitCode;
    }
}

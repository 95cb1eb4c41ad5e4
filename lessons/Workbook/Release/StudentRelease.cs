using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Workbook.Notebooks;

namespace Workbook.Release;

/// <summary>
/// Writes the student copy of the repository from its git-tracked files (so build outputs never leak): solutions become
/// stubs, hidden tests and instructor-only files are left out, notebook outputs are cleared, and a manifest records
/// the SHA-256 of every test file, so that grading can tell when a submission changed them.
/// </summary>
public static class StudentRelease
{
    public const string ManifestFile = "release-manifest.json";

    /// <summary>Left out of the student copy (folders end in '/'). Everything else git tracks is copied.</summary>
    public static readonly IReadOnlyList<string> InstructorOnly =
    [
        ".ci/",                               // the instructor's CI script
        "executed/",                          // executed notebooks (outputs)
        "docs/instructor-guide.md",           // how to release and grade
        "tests/Exercises.Tests/HiddenTraces/", // lesson 05's hidden traces
        "tests/Workbook.Tests/Release/",      // the release cycle test: it needs the solutions
    ];

    /// <summary>Folders never copied whatever git says: build outputs and git itself.</summary>
    static readonly string[] NeverCopied = ["bin", "obj", ".git", "TestResults"];

    public sealed record Result(int Files, int Stubs, int HiddenRegions, IReadOnlyList<string> LeftOut);

    /// <summary>The repository's git-tracked files that still exist, as '/'-separated relative paths.</summary>
    public static IReadOnlyList<string> TrackedFiles(string root)
    {
        var start = new ProcessStartInfo("git", ["-C", root, "ls-files", "-z"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var git = Process.Start(start) ?? throw new InvalidOperationException("cannot start git");
        var stdout = git.StandardOutput.ReadToEndAsync();
        var stderr = git.StandardError.ReadToEnd();
        git.WaitForExit();
        if (git.ExitCode != 0)
            throw new InvalidOperationException($"git ls-files failed in {root}: {stderr.Trim()}");
        return stdout.Result.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Where(path => File.Exists(Path.Combine(root, path)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public static bool IsInstructorOnly(string path) =>
        InstructorOnly.Any(p => p.EndsWith('/') ? path.StartsWith(p, StringComparison.Ordinal) : path == p)
        || path.Split('/').SkipLast(1).Any(NeverCopied.Contains);

    /// <summary>
    /// <paramref name="path"/> made absolute with every symbolic link along it resolved (the part that does not exist
    /// yet is kept as given), so a link into the repository is seen for what it is. The BCL resolves only a path's
    /// last link (FileSystemInfo.ResolveLinkTarget), hence the walk.
    /// </summary>
    internal static string RealPath(string path)
    {
        var pending = new Queue<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries));
        string current = "/";
        for (int links = 0; pending.TryDequeue(out var part);)
        {
            string next = Path.Combine(current, part);
            if (new FileInfo(next).LinkTarget is not { } target)
            {
                current = next;
                continue;
            }
            if (++links > 40)
                throw new IOException($"{path}: too many levels of symbolic links");
            var rest = pending.ToArray();
            pending = new Queue<string>(Path.GetFullPath(target, current).Split('/', StringSplitOptions.RemoveEmptyEntries).Concat(rest));
            current = "/";
        }
        return current;
    }

    static string? AncestorFile(string path)
    {
        for (var dir = Path.GetDirectoryName(path); dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(dir)) return dir;
        return null;
    }

    /// <summary><paramref name="dir"/> resolved, once checked to be a new or empty folder outside <paramref name="root"/>.</summary>
    static string NewFolder(string root, string dir, string option)
    {
        string given = Path.GetFullPath(dir);
        dir = RealPath(dir);
        string shown = given == dir ? given : $"{given} (that is {dir})";
        if (File.Exists(dir))
            throw new IOException($"{shown} is a file: {option} names a new folder");
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new IOException($"{shown} is not empty: release writes into a new folder");
        if (dir.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || dir == root)
            throw new IOException($"{shown} is inside the repository: release outside it");
        if (AncestorFile(dir) is { } file)
            throw new IOException($"{shown} cannot be created: {file} is a file");
        return dir;
    }

    /// <summary>
    /// Writes the student copy of <paramref name="root"/> into <paramref name="outDir"/> (which must be empty or absent),
    /// and, when <paramref name="classroom50Dir"/> is given, the Classroom 50 autograder bundle there.
    /// </summary>
    /// <exception cref="MarkerException">a malformed marker; nothing is written.</exception>
    public static Result Write(string root, string outDir, string? classroom50Dir = null)
    {
        root = RealPath(root);
        outDir = NewFolder(root, outDir, "--out");
        if (classroom50Dir is not null)
        {
            classroom50Dir = NewFolder(root, classroom50Dir, "--classroom50");
            if (classroom50Dir == outDir || classroom50Dir.StartsWith(outDir + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                || outDir.StartsWith(classroom50Dir + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new IOException($"{classroom50Dir}: the Classroom 50 bundle goes to its own folder, apart from the student copy");
        }

        var files = TrackedFiles(root);
        var leftOut = files.Where(IsInstructorOnly).ToList();
        // Everything is read and transformed before anything is written, so a bad marker writes nothing.
        var contents = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int stubs = 0, hidden = 0;
        foreach (var path in files.Except(leftOut))
        {
            var full = Path.Combine(root, path);
            if (path.EndsWith(".cs", StringComparison.Ordinal))
            {
                var text = File.ReadAllText(full);
                if (Markers.HasMarkers(text))
                {
                    stubs += CountLines(text, Markers.BeginSolution);
                    hidden += CountLines(text, Markers.BeginHidden);
                    text = Markers.Strip(text, path);
                }
                contents[path] = System.Text.Encoding.UTF8.GetBytes(text);
            }
            else if (path.EndsWith(".ipynb", StringComparison.Ordinal))
                contents[path] = ClearOutputs(full);
            else
                contents[path] = File.ReadAllBytes(full);
        }
        var bundle = GradingFiles.Classroom50(contents);
        foreach (var (path, bytes) in GradingFiles.StudentCopy(contents))
            contents[path] = bytes;

        foreach (var (path, bytes) in contents)
        {
            var source = Path.Combine(root, path);
            WriteFile(Path.Combine(outDir, path), bytes,
                File.Exists(source) ? (File.GetUnixFileMode(source) & UnixFileMode.UserExecute) != 0 : GradingFiles.IsExecutable(path));
        }
        if (classroom50Dir is not null)
            foreach (var (name, bytes) in bundle)
                WriteFile(Path.Combine(classroom50Dir, name), bytes, GradingFiles.IsExecutable(name));
        var manifest = new JsonObject
        {
            ["tests"] = new JsonObject(contents.Keys.Where(IsTestFile).Order(StringComparer.Ordinal)
                .Select(path => KeyValuePair.Create(path, (JsonNode?)Sha256(contents[path])))),
        };
        File.WriteAllText(Path.Combine(outDir, ManifestFile), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return new Result(contents.Count, stubs, hidden, leftOut);
    }

    static void WriteFile(string target, byte[] bytes, bool executable)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.WriteAllBytes(target, bytes);
        if (executable && !OperatingSystem.IsWindows()) // scripts stay executable
            File.SetUnixFileMode(target, File.GetUnixFileMode(target) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
    }

    /// <summary>The files the manifest covers: everything under tests/.</summary>
    public static bool IsTestFile(string path) => path.StartsWith("tests/", StringComparison.Ordinal);

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    static int CountLines(string text, string marker) =>
        text.Split('\n').Count(line => line.Trim() == marker);

    static byte[] ClearOutputs(string path)
    {
        var notebook = NotebookFile.Load(path);
        foreach (var cell in notebook["cells"]!.AsArray().OfType<JsonObject>())
            if ((string?)cell["cell_type"] == "code")
            {
                cell["outputs"] = new JsonArray();
                cell["execution_count"] = null;
            }
        var temp = Path.GetTempFileName();
        try
        {
            NotebookFile.Save(notebook, temp);
            return File.ReadAllBytes(temp);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}

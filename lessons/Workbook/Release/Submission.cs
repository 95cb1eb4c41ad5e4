using System.IO.Compression;

namespace Workbook.Release;

/// <summary>A submission that cannot be read (not a zip, too large); the message says why.</summary>
public sealed class SubmissionException(string message) : Exception(message);

/// <summary>
/// What grading takes from an upload: the course's exercise files (<c>ExNN*.cs</c>, by the names the course uses)
/// wherever the student put them — flat, in the repository layout, or in a zip of either — plus any other .cs files
/// next to them in a <c>lessons/Exercises</c> folder. Nothing else of the upload is used.
/// </summary>
public sealed class Submission : IDisposable
{
    const long MaxFileBytes = 1 << 20;
    const long MaxUnzippedBytes = 256L << 20;
    const int MaxZipEntries = 20_000;
    static readonly string[] Skipped = ["bin", "obj", ".git", "TestResults", "__MACOSX", "node_modules"];

    readonly List<string> temporary = [];

    /// <summary>Repository-relative path ("lessons/Exercises/Ex01AddressSpace.cs") → contents.</summary>
    public IReadOnlyDictionary<string, byte[]> Exercises { get; private set; } = new Dictionary<string, byte[]>();

    /// <summary>The folder holding the upload's repository layout (with lessons/Exercises), if it has one: its tests/ are checked for tampering.</summary>
    public string? RepositoryRoot { get; private set; }

    /// <summary>What the intake did that the student should know: files it used from unusual places, files it ignored.</summary>
    public IReadOnlyList<string> Notes { get; private set; } = [];

    /// <summary>Reads <paramref name="path"/> (a folder or a .zip) for the exercise files named <paramref name="exerciseNames"/>.</summary>
    /// <exception cref="SubmissionException">the upload cannot be read.</exception>
    public static Submission Open(string path, IReadOnlyCollection<string> exerciseNames)
    {
        var submission = new Submission();
        try
        {
            var folder = path;
            if (File.Exists(path))
                folder = submission.Unzip(path);
            else if (!Directory.Exists(path))
                throw new SubmissionException($"{path} is neither a folder nor a zip file");
            var notes = new List<string>();
            if (!submission.Find(folder, exerciseNames, notes))
                foreach (var zip in Files(folder).Where(f => f.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal))
                {
                    notes.Add($"unpacked {Path.GetRelativePath(folder, zip)}");
                    if (submission.Find(submission.Unzip(zip), exerciseNames, notes))
                        break;
                }
            submission.Notes = notes;
            return submission;
        }
        catch
        {
            submission.Dispose();
            throw;
        }
    }

    bool Find(string folder, IReadOnlyCollection<string> exerciseNames, List<string> notes)
    {
        var candidates = Files(folder).Where(f => f.EndsWith(".cs", StringComparison.Ordinal)).ToList();
        var exercises = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        string? exercisesFolder = null;
        foreach (var name in exerciseNames.Order(StringComparer.Ordinal))
        {
            var matches = candidates.Where(f => string.Equals(Path.GetFileName(f), name, StringComparison.OrdinalIgnoreCase))
                .OrderBy(f => InExercisesFolder(f) ? 0 : 1).ThenBy(f => f.Count(c => c == '/')).ThenBy(f => f, StringComparer.Ordinal)
                .ToList();
            if (matches.Count == 0)
                continue;
            var chosen = matches[0];
            if (matches.Count > 1)
                notes.Add($"{name}: {matches.Count} copies, graded {Path.GetRelativePath(folder, chosen)}");
            if (new FileInfo(chosen).Length > MaxFileBytes)
            {
                notes.Add($"{Path.GetRelativePath(folder, chosen)} is larger than {MaxFileBytes >> 20} MiB: ignored");
                continue;
            }
            exercises[$"lessons/Exercises/{name}"] = File.ReadAllBytes(chosen);
            if (InExercisesFolder(chosen))
                exercisesFolder ??= Path.GetDirectoryName(chosen);
        }
        if (exercises.Count == 0)
            return false;
        if (exercisesFolder is not null)
        {
            // The repository layout: the student's own helper files next to the exercises count too.
            foreach (var helper in Files(exercisesFolder).Where(f => f.EndsWith(".cs", StringComparison.Ordinal)))
            {
                var key = $"lessons/Exercises/{Path.GetRelativePath(exercisesFolder, helper).Replace('\\', '/')}";
                if (!exercises.ContainsKey(key) && !exerciseNames.Contains(Path.GetFileName(helper), StringComparer.OrdinalIgnoreCase)
                    && new FileInfo(helper).Length <= MaxFileBytes)
                    exercises[key] = File.ReadAllBytes(helper);
            }
            RepositoryRoot = Path.GetDirectoryName(Path.GetDirectoryName(exercisesFolder));
        }
        Exercises = exercises;
        return true;
    }

    static bool InExercisesFolder(string file) =>
        Path.GetDirectoryName(file)!.Replace('\\', '/').EndsWith("/lessons/Exercises", StringComparison.OrdinalIgnoreCase);

    /// <summary>The files under <paramref name="folder"/>, without build outputs, git, or symbolic links.</summary>
    static IEnumerable<string> Files(string folder)
    {
        var pending = new Stack<string>([folder]);
        var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        while (pending.TryPop(out var dir))
        {
            string[] files, subs;
            try
            {
                files = Directory.GetFiles(dir, "*", options);
                subs = Directory.GetDirectories(dir, "*", options);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // gone or unreadable since its parent was listed (a process's folder in /proc)
            }
            foreach (var file in files)
                yield return file;
            foreach (var sub in subs)
                if (!Skipped.Contains(Path.GetFileName(sub), StringComparer.OrdinalIgnoreCase))
                    pending.Push(sub);
        }
    }

    string Unzip(string zip)
    {
        var target = Directory.CreateTempSubdirectory("workbook-submission-").FullName;
        temporary.Add(target);
        try
        {
            using var archive = ZipFile.OpenRead(zip);
            if (archive.Entries.Count > MaxZipEntries || archive.Entries.Sum(e => e.Length) > MaxUnzippedBytes)
                throw new SubmissionException($"{Path.GetFileName(zip)} is too large to grade (more than {MaxZipEntries:N0} files or {MaxUnzippedBytes >> 20} MiB)");
            archive.ExtractToDirectory(target); // refuses entries that point outside the target
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new SubmissionException($"cannot read {Path.GetFileName(zip)} as a zip file: {e.Message}");
        }
        return target;
    }

    public void Dispose()
    {
        foreach (var folder in temporary)
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        temporary.Clear();
    }
}

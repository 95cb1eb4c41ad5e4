using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace Workbook.Release;

/// <summary>
/// Gradescope's autograder (https://gradescope-autograders.readthedocs.io/en/latest/specs/): autograder.zip holds
/// setup.sh and run_autograder at its root and the course copy in course/ (exercises as stubs, every test, the file
/// list that replaces git there, the release manifest). Gradescope unpacks it into /autograder/source, runs setup.sh
/// once, then run_autograder per submission, which runs <see cref="Run"/>.
/// </summary>
public static class GradescopeAutograder
{
    public const string ZipName = "autograder.zip";
    public const string CourseFolder = "course";

    /// <summary>The user the student's code runs as when the autograder runs as root (setup.sh creates it too).</summary>
    public const string StudentUser = "student";

    /// <summary>Writes <paramref name="outDir"/>/autograder.zip; its path and the number of course files in it.</summary>
    public static (string Zip, int Files) Write(string root, string outDir)
    {
        var files = Grader.CourseFiles(root);
        var release = Directory.CreateTempSubdirectory("workbook-gradescope-release-").FullName;
        byte[] manifest;
        try
        {
            StudentRelease.Write(root, release); // the manifest the students' copies were released with
            manifest = File.ReadAllBytes(Path.Combine(release, StudentRelease.ManifestFile));
        }
        finally
        {
            Directory.Delete(release, recursive: true);
        }
        Directory.CreateDirectory(outDir);
        var zip = Path.Combine(Path.GetFullPath(outDir), ZipName);
        var temp = zip + ".tmp";
        using (var archive = ZipFile.Open(temp, ZipArchiveMode.Create))
        {
            Add(archive, "setup.sh", Script("setup.sh"), executable: true);
            Add(archive, "run_autograder", Script("run_autograder"), executable: true);
            foreach (var path in files)
            {
                var full = Path.Combine(root, path);
                var bytes = path.StartsWith("lessons/Exercises/", StringComparison.Ordinal)
                    ? Grader.Stub(root, path) // no solutions in the autograder
                    : File.ReadAllBytes(full);
                Add(archive, $"{CourseFolder}/{path}", bytes, (File.GetUnixFileMode(full) & UnixFileMode.UserExecute) != 0);
            }
            Add(archive, $"{CourseFolder}/{Grader.FileList}", Encoding.UTF8.GetBytes(string.Join('\n', files) + "\n"), executable: false);
            Add(archive, $"{CourseFolder}/{StudentRelease.ManifestFile}", manifest, executable: false);
        }
        File.Move(temp, zip, overwrite: true);
        return (zip, files.Count);
    }

    static byte[] Script(string name) => EmbeddedFiles.Bytes($"Gradescope/{name}");

    static void Add(ZipArchive archive, string name, byte[] bytes, bool executable)
    {
        var entry = archive.CreateEntry(name, CompressionLevel.Optimal);
        entry.ExternalAttributes = (executable ? 0x81ED : 0x81A4) << 16; // a regular file, rwxr-xr-x or rw-r--r--
        using var stream = entry.Open();
        stream.Write(bytes);
    }

    /// <summary>
    /// Grades <paramref name="root"/>/submission with the course copy in <paramref name="root"/>/source/course and
    /// writes <paramref name="root"/>/results/results.json, whatever happens (a build failure, a time-out, a crash of
    /// the grader itself). As root, the student's code runs as <see cref="StudentUser"/>.
    /// </summary>
    public static int Run(string root, TimeSpan timeout, TextWriter log)
    {
        var clock = Stopwatch.StartNew();
        var results = Path.Combine(root, "results", "results.json");
        Grades grades;
        try
        {
            var course = Path.Combine(root, "source", CourseFolder);
            if (!File.Exists(Path.Combine(course, Grader.FileList)))
                throw new InvalidOperationException($"no course copy in {course}: unpack {ZipName} into {Path.Combine(root, "source")} and run setup.sh");
            var manifest = Path.Combine(course, StudentRelease.ManifestFile);
            grades = Grader.Grade(course, Path.Combine(root, "submission"), File.Exists(manifest) ? manifest : null, new GradeOptions
            {
                Timeout = timeout - TimeSpan.FromSeconds(10), // time to write the results
                RunAs = Environment.IsPrivilegedProcess ? StudentUser : null,
                Leaderboard = true,
                InPlace = true, // setup.sh built it; Gradescope starts a fresh container per submission
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // results.json must be written whatever failed; the message goes to the student and the instructor.
            grades = new Grades([], 0, 0, [], null) { Status = GradeStatus.Crashed, Problem = $"The autograder failed: {e.Message}" };
        }
        Directory.CreateDirectory(Path.GetDirectoryName(results)!);
        File.WriteAllText(results, GradeOutputs.Gradescope(grades with { Elapsed = clock.Elapsed }));
        log.Write(GradeOutputs.Table(grades));
        log.WriteLine($"wrote {results}");
        return 0;
    }
}

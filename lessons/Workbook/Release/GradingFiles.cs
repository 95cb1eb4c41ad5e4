using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Release;

/// <summary>
/// The grading files a release writes: a plain GitHub Actions workflow in the student copy (no classroom service: it
/// builds, runs the visible graded tests and writes the grade table to the job summary), and the Classroom 50
/// autograder bundle for the instructor's classroom50 repository (autograder.py, which writes result.json in the
/// classroom50/result/v1 schema with per-test points, and graded-tests.json, the tests it expects). The templates are
/// Release/Templates/*, embedded in the workbook.
/// </summary>
public static class GradingFiles
{
    public const string WorkflowPath = ".github/workflows/grade.yml";
    public const string ScriptPath = ".github/scripts/grade.sh";
    public const string AutograderFile = "autograder.py";
    public const string TestListFile = "graded-tests.json";

    /// <summary>The file name Classroom 50 reserves for its caller workflow in student repositories: a release never writes it.</summary>
    public const string Classroom50Reserved = ".github/workflows/autograde.yaml";

    /// <summary>The visible graded tests of a student copy (path → contents); hidden ones are never listed.</summary>
    public static IReadOnlyList<GradedSource> VisibleTests(IReadOnlyDictionary<string, byte[]> files) =>
        GradedSources.Tests(files).Where(t => !t.Hidden).ToList();

    /// <summary>The student copy's workflow and the script it runs (path → contents).</summary>
    public static Dictionary<string, byte[]> StudentCopy(IReadOnlyDictionary<string, byte[]> files)
    {
        var possible = VisibleTests(files).Sum(t => t.Points).ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [WorkflowPath] = Encoding.UTF8.GetBytes(Template("grade.yml")),
            [ScriptPath] = Encoding.UTF8.GetBytes(Template("grade.sh").Replace("@POSSIBLE@", possible, StringComparison.Ordinal)),
        };
    }

    /// <summary>The Classroom 50 bundle (file name → contents), for CLASSROOM/autograders/ASSIGNMENT/ in the classroom50 repository.</summary>
    public static Dictionary<string, byte[]> Classroom50(IReadOnlyDictionary<string, byte[]> files)
    {
        var tests = VisibleTests(files);
        var list = new JsonObject
        {
            ["schema"] = "workbook/graded-tests/v1",
            ["possible"] = tests.Sum(t => t.Points),
            ["tests"] = new JsonArray(tests.Select(t => (JsonNode)new JsonObject { ["name"] = t.Name, ["lesson"] = t.Lesson, ["points"] = t.Points }).ToArray()),
        };
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            [AutograderFile] = Encoding.UTF8.GetBytes(Template("autograder.py")),
            [TestListFile] = Encoding.UTF8.GetBytes(list.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"),
        };
    }

    /// <summary>Files of the bundle or the copy that must be executable.</summary>
    public static bool IsExecutable(string path) => path.EndsWith(".sh", StringComparison.Ordinal) || path.EndsWith(".py", StringComparison.Ordinal);

    static string Template(string name) => Encoding.UTF8.GetString(EmbeddedFiles.Bytes($"Templates/{name}"));
}

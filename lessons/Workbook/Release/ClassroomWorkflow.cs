using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Workbook.Release;

/// <summary>
/// The GitHub Classroom workflow of the student copy: one autograding-command-grader step per lesson
/// (<c>dotnet test tests/Exercises.Tests --filter Lesson=NN</c>, worth the lesson's visible points, all or nothing,
/// as that action awards them) and the autograding-grading-reporter step that sends the results to Classroom.
/// </summary>
public static partial class ClassroomWorkflow
{
    public const string Path = ".github/workflows/classroom.yml";

    [GeneratedRegex(@"Graded\(\s*lesson:\s*(\d+)\s*,\s*points:\s*(\d+)")]
    private static partial Regex GradedAttribute();

    /// <summary>Points per lesson of the [Graded] tests written in the given files (path → contents).</summary>
    public static SortedDictionary<int, int> PointsPerLesson(IReadOnlyDictionary<string, byte[]> files)
    {
        var points = new SortedDictionary<int, int>();
        foreach (var (path, bytes) in files)
        {
            if (!path.StartsWith("tests/Exercises.Tests/", StringComparison.Ordinal) || !path.EndsWith(".cs", StringComparison.Ordinal))
                continue;
            foreach (Match m in GradedAttribute().Matches(Encoding.UTF8.GetString(bytes)))
            {
                var lesson = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                points[lesson] = points.GetValueOrDefault(lesson) + int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }
        return points;
    }

    public static string Generate(IReadOnlyDictionary<string, byte[]> files)
    {
        var lessons = PointsPerLesson(files);
        var text = new StringBuilder("""
            # Written by `workbook release`: one step per lesson, each worth its lesson's points when all its tests pass.
            name: Autograding Tests
            "on":
              - push
              - workflow_dispatch
              - repository_dispatch
            permissions:
              checks: write
              actions: read
              contents: read
            jobs:
              run-autograding-tests:
                runs-on: ubuntu-latest
                if: github.actor != 'github-classroom[bot]'
                env:
                  DOTNET_EnableWriteXorExecute: "0"
                  DOTNET_NOLOGO: "1"
                steps:
                  - name: Checkout code
                    uses: actions/checkout@v4
                  - name: Set up .NET
                    uses: actions/setup-dotnet@v4
                    with:
                      global-json-file: global.json
                  - name: Build
                    run: dotnet build tests/Exercises.Tests

            """);
        foreach (var (lesson, points) in lessons)
        {
            var nn = lesson.ToString("00", CultureInfo.InvariantCulture);
            text.Append(CultureInfo.InvariantCulture, $"""
                      - name: Lesson {nn}
                        id: lesson-{nn}
                        uses: classroom-resources/autograding-command-grader@v1
                        with:
                          test-name: Lesson {nn}
                          command: dotnet test tests/Exercises.Tests --no-build --filter Lesson={nn}
                          timeout: 10
                          max-score: {points}

                """);
        }
        text.Append("""
                  - name: Autograding Reporter
                    uses: classroom-resources/autograding-grading-reporter@v1
                    env:

            """);
        foreach (var lesson in lessons.Keys)
        {
            var nn = lesson.ToString("00", CultureInfo.InvariantCulture);
            text.Append(CultureInfo.InvariantCulture, $"          LESSON-{nn}_RESULTS: \"${{{{steps.lesson-{nn}.outputs.result}}}}\"\n");
        }
        text.Append("        with:\n");
        text.Append(CultureInfo.InvariantCulture, $"          runners: {string.Join(',', lessons.Keys.Select(l => $"lesson-{l:00}"))}\n");
        return text.ToString();
    }
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Workbook.Release;

/// <summary>A graded test as its source declares it: the test method's full name, its lesson and points.</summary>
public sealed record GradedSource(string Name, int Lesson, int Points, bool Hidden);

/// <summary>The [Graded] tests written in tests/Exercises.Tests/*.cs, read from the source (no build needed).</summary>
public static partial class GradedSources
{
    const string Folder = "tests/Exercises.Tests/";

    [GeneratedRegex(@"Graded\(\s*lesson:\s*(\d+)\s*,\s*points:\s*(\d+)([^)]*)\)")]
    private static partial Regex GradedAttribute();

    [GeneratedRegex(@"Graded\(\s*lesson:\s*(\d+)\s*,\s*points:\s*(\d+)([^)]*)\)\][\s\S]*?public\s+(?:async\s+)?[\w<>]+\s+(\w+)\s*\(")]
    private static partial Regex GradedMethod();

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex Namespace();

    [GeneratedRegex(@"^public\s+(?:(?:sealed|partial|unsafe|static)\s+)*class\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex Class();

    static IEnumerable<(string Path, string Text)> Sources(IReadOnlyDictionary<string, byte[]> files) =>
        files.Where(f => f.Key.StartsWith(Folder, StringComparison.Ordinal) && f.Key.EndsWith(".cs", StringComparison.Ordinal))
            .OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(f => (f.Key, Encoding.UTF8.GetString(f.Value)));

    static int Int(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);

    /// <summary>Points per lesson of the [Graded] tests written in the given files (path → contents).</summary>
    public static SortedDictionary<int, int> PointsPerLesson(IReadOnlyDictionary<string, byte[]> files)
    {
        var points = new SortedDictionary<int, int>();
        foreach (var (_, text) in Sources(files))
            foreach (Match m in GradedAttribute().Matches(text))
                points[Int(m.Groups[1])] = points.GetValueOrDefault(Int(m.Groups[1])) + Int(m.Groups[2]);
        return points;
    }

    /// <summary>Every [Graded] test method, by lesson then name, named as the test runner names it (Namespace.Class.Method).</summary>
    /// <exception cref="InvalidOperationException">a test file whose namespace or class cannot be read.</exception>
    public static IReadOnlyList<GradedSource> Tests(IReadOnlyDictionary<string, byte[]> files)
    {
        var tests = new List<GradedSource>();
        foreach (var (path, text) in Sources(files))
        {
            var methods = GradedMethod().Matches(text);
            if (methods.Count == 0) continue;
            var ns = Namespace().Match(text);
            var classes = Class().Matches(text);
            if (!ns.Success || classes.Count == 0 || classes[0].Index > methods[0].Index)
                throw new InvalidOperationException($"{path}: graded tests outside a file-scoped namespace and a public class");
            foreach (Match m in methods)
            {
                var cls = classes.Last(c => c.Index < m.Index); // a file may hold several test classes
                tests.Add(new GradedSource($"{ns.Groups[1].Value}.{cls.Groups[1].Value}.{m.Groups[4].Value}",
                    Int(m.Groups[1]), Int(m.Groups[2]), m.Groups[3].Value.Contains("Hidden = true", StringComparison.Ordinal)));
            }
        }
        return tests.OrderBy(t => t.Lesson).ThenBy(t => t.Name, StringComparer.Ordinal).ToList();
    }
}

using System.Text;
using System.Text.RegularExpressions;

namespace Workbook.Release;

/// <summary>A malformed marker: names the file and the 1-based line.</summary>
public sealed class MarkerException(string file, int line, string message)
    : Exception($"{file}:{line}: {message}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
}

/// <summary>
/// The nbgrader-style markers of the instructor's sources: <c>// BEGIN SOLUTION</c> … <c>// END SOLUTION</c> (a method
/// body, replaced in the student copy by a throw naming the exercise) and <c>// BEGIN HIDDEN TESTS</c> …
/// <c>// END HIDDEN TESTS</c> (removed). Regions must close, and must not nest or overlap.
/// </summary>
public static partial class Markers
{
    public const string BeginSolution = "// BEGIN SOLUTION", EndSolution = "// END SOLUTION";
    public const string BeginHidden = "// BEGIN HIDDEN TESTS", EndHidden = "// END HIDDEN TESTS";

    /// <summary>The text every stub's message contains (validate-release looks for it in failing tests).</summary>
    public const string NotImplemented = "not implemented yet";

    [GeneratedRegex(@"Exercise (\d\d\.\d+)")]
    private static partial Regex ExerciseId();

    [GeneratedRegex(@"(\w+)\s*(<[^(]*>)?\s*\(")]
    private static partial Regex MethodName();

    [GeneratedRegex(@"^Ex(\d\d)")]
    private static partial Regex LessonOfFile();

    /// <summary>True when the text holds any marker line.</summary>
    public static bool HasMarkers(string text) => text.Contains("// BEGIN ", StringComparison.Ordinal) || text.Contains("// END ", StringComparison.Ordinal);

    /// <summary>
    /// The student version of a source file: each solution region becomes one line
    /// <c>throw new NotImplementedException("Exercise NN.k (Method): not implemented yet");</c> at the marker's indentation,
    /// and each hidden-tests region disappears. <paramref name="file"/> names the file in errors and gives the lesson
    /// number (ExNN…) for exercises whose doc comment names none.
    /// </summary>
    public static string Strip(string text, string file)
    {
        var lines = text.Split('\n');
        var output = new StringBuilder();
        string? open = null;   // the BEGIN marker of the region we are in
        int openLine = 0, lastEnd = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var marker = line.Trim().TrimEnd('\r');
            if (marker is BeginSolution or BeginHidden)
            {
                if (open is not null)
                    throw new MarkerException(file, i + 1, $"'{marker}' inside the region opened by '{open}' at line {openLine} (regions cannot nest)");
                open = marker;
                openLine = i + 1;
                if (marker == BeginSolution)
                {
                    var indent = line[..(line.Length - line.TrimStart().Length)];
                    var exercise = ExerciseName(lines, lastEnd, i, file);
                    output.Append(indent).Append($"throw new NotImplementedException(\"{exercise}: {NotImplemented}\");")
                        .Append(line.EndsWith('\r') ? "\r\n" : "\n");
                }
                continue;
            }
            if (marker is EndSolution or EndHidden)
            {
                var begin = marker == EndSolution ? BeginSolution : BeginHidden;
                if (open is null)
                    throw new MarkerException(file, i + 1, $"'{marker}' without a '{begin}' before it");
                if (open != begin)
                    throw new MarkerException(file, i + 1, $"'{marker}' closes the region opened by '{open}' at line {openLine}");
                open = null;
                lastEnd = i + 1;
                continue;
            }
            if (marker.StartsWith("// BEGIN ", StringComparison.Ordinal) || marker.StartsWith("// END ", StringComparison.Ordinal))
                throw new MarkerException(file, i + 1, $"unknown marker '{marker}' (expected {BeginSolution}, {EndSolution}, {BeginHidden} or {EndHidden})");
            if (open is null)
                output.Append(line).Append(i + 1 < lines.Length ? "\n" : "");
        }
        if (open is not null)
            throw new MarkerException(file, openLine, $"'{open}' is never closed");
        return output.ToString();
    }

    /// <summary>
    /// "Exercise NN.k (Method)" from the doc comment above the method whose body starts at <paramref name="begin"/>;
    /// "Exercise NN (Method)" for a helper whose comment names no exercise.
    /// </summary>
    static string ExerciseName(string[] lines, int from, int begin, string file)
    {
        string? id = null, method = null;
        for (var i = begin - 1; i >= from; i--)
        {
            var line = lines[i].Trim();
            if (line.StartsWith("///", StringComparison.Ordinal))
            {
                if (ExerciseId().Match(line) is { Success: true } m) id = m.Groups[1].Value;
            }
            else if (method is null && line.Length > 0 && line != "{" && !line.StartsWith('[') && MethodName().Match(line) is { Success: true } signature)
                method = signature.Groups[1].Value;
            else if (method is not null && line.Length > 0 && !line.StartsWith('['))
                break; // the line before the method's comment and attributes
        }
        id ??= LessonOfFile().Match(Path.GetFileName(file)) is { Success: true } lesson ? lesson.Groups[1].Value : null;
        var name = id is null ? "Exercise" : $"Exercise {id}";
        return method is null ? name : $"{name} ({method})";
    }
}

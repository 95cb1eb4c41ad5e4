using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Workbook.Notebooks;

/// <summary>Decides whether a code cell is plain C# the runner can execute, and strips a leading #!csharp.</summary>
static partial class CellSource
{
    [GeneratedRegex("""^\s*#[ri]\s+"nuget:""")]
    private static partial Regex NugetDirective();

    /// <summary>The code to run, or null with <paramref name="problem"/> saying why the cell cannot run.</summary>
    public static string? CodeOf(JsonObject cell, out string problem)
    {
        problem = "";
        var metadata = cell["metadata"];
        foreach (var language in new[] { metadata?["dotnet_interactive"]?["language"], metadata?["polyglot_notebook"]?["kernelName"] })
        {
            if (language is JsonValue value && value.TryGetValue<string>(out var name) && !IsCSharp(name))
            {
                problem = $"a '{name}' cell (cell metadata) is not supported by the workbook runner: "
                          + "only C# cells run; make it a C# cell or a markdown cell";
                return null;
            }
        }

        var lines = NotebookFile.Source(cell).Split('\n');
        var first = Array.FindIndex(lines, line => line.Trim().Length > 0);
        if (first >= 0 && lines[first].Trim() is "#!csharp" or "#!c#")
            lines[first] = ""; // keep the line, so compiler messages keep the cell's line numbers

        foreach (var line in lines.Select(line => line.Trim()))
        {
            if (line.StartsWith("#!", StringComparison.Ordinal))
            {
                problem = $"'{line}' is not supported by the workbook runner: it runs C# only, "
                          + "without magic commands; remove the line, or move the cell's code to C#";
                return null;
            }
            if (NugetDirective().IsMatch(line))
            {
                problem = $"'{line[..2]} \"nuget:...\"' is not supported by the workbook runner: "
                          + "reference the built library with #r \"path/to/dll\"";
                return null;
            }
        }
        return string.Join('\n', lines);
    }

    static bool IsCSharp(string language) =>
        language.Equals("csharp", StringComparison.OrdinalIgnoreCase) || language.Equals("C#", StringComparison.OrdinalIgnoreCase);
}

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Workbook.Tests.Release;

/// <summary>
/// docs/instructor-guide.md as the tests run it: its workbook commands (run in process, as the guide writes them, with
/// its shell variables replaced), its other shell lines (run with bash), and the variables it defines.
/// </summary>
static partial class InstructorGuide
{
    const string Prefix = "dotnet run --project lessons/Workbook -- ";

    public static string Text { get; } = File.ReadAllText(Path.Combine(Repository.FindRoot(AppContext.BaseDirectory)!, "docs", "instructor-guide.md"));

    [GeneratedRegex(@"^```sh\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline)]
    private static partial Regex ShellBlock();

    [GeneratedRegex(@"^([A-Z_][A-Z0-9_]*)=\S+\s*(#.*)?$")]
    private static partial Regex Definition();

    /// <summary>The lines of the guide's sh blocks, trimmed.</summary>
    static IEnumerable<string> ShellLines => ShellBlock().Matches(Text).SelectMany(m => m.Groups[1].Value.Split('\n')).Select(l => l.Trim()).Where(l => l.Length > 0);

    /// <summary>The variables the guide's sh blocks define (NAME=value lines); a test gives each its own value.</summary>
    public static IReadOnlyList<string> Variables => ShellLines.Select(l => Definition().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().ToList();

    /// <summary>
    /// The guide's workbook commands, by the command and its first option ("grade --submissions", "validate-release"),
    /// with the variables replaced.
    /// </summary>
    public static Dictionary<string, string[]> Commands(IReadOnlyDictionary<string, string> variables)
    {
        var commands = new Dictionary<string, string[]>();
        foreach (var line in Text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith(Prefix, StringComparison.Ordinal) && !l.Contains("COMMAND")))
        {
            var args = line[Prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(a => Substitute(a.Trim('"'), variables))
                .ToArray();
            commands[args.Length > 1 && line[Prefix.Length..].Split(' ')[1].StartsWith("--", StringComparison.Ordinal) ? $"{args[0]} {args[1]}" : args[0]] = args;
        }
        return commands;
    }

    /// <summary>The sh block holding <paramref name="marker"/>, without its variable definitions (the test's values are exported instead).</summary>
    public static string Script(string marker)
    {
        var block = ShellBlock().Matches(Text).Select(m => m.Groups[1].Value).Single(b => b.Contains(marker, StringComparison.Ordinal));
        return string.Join('\n', block.Split('\n').Where(l => !Definition().IsMatch(l.Trim())));
    }

    /// <summary>The one line of the guide's sh blocks that holds <paramref name="marker"/>.</summary>
    public static string Line(string marker) => ShellLines.Single(l => l.Contains(marker, StringComparison.Ordinal) && !l.StartsWith("cat ", StringComparison.Ordinal));

    static string Substitute(string text, IReadOnlyDictionary<string, string> variables) =>
        Regex.Replace(text, @"\$(\w+)", m => variables.TryGetValue(m.Groups[1].Value, out var value) ? value : m.Value);

    /// <summary>Runs guide lines with bash (-e, -u, pipefail), the variables exported.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Bash(string script, IReadOnlyDictionary<string, string> variables, TimeSpan timeout) =>
        TestSupport.RunProcess("bash", ["-euo", "pipefail", "-c", script], Repository.FindRoot(AppContext.BaseDirectory)!, timeout,
            variables.ToDictionary(v => v.Key, v => (string?)v.Value));
}

/// <summary>The shape Gradescope documents for results.json (https://gradescope-autograders.readthedocs.io/en/latest/specs/).</summary>
static class GradescopeSpec
{
    public static void AssertShape(JsonObject results)
    {
        string[] topLevel = ["score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"];
        string[] perTest = ["score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags", "visibility", "extra_data"];
        string[] visibilities = ["visible", "hidden", "after_due_date", "after_published"];
        Assert.All(results.Select(p => p.Key), key => Assert.Contains(key, topLevel));
        Assert.True(results["score"]!.GetValueKind() == System.Text.Json.JsonValueKind.Number);
        if (results["output_format"] is { } format)
            Assert.Contains((string)format!, new[] { "text", "html", "simple_format", "md", "ansi" });
        if (results["execution_time"] is { } time)
            Assert.True(time.GetValueKind() == System.Text.Json.JsonValueKind.Number);
        var tests = results["tests"]!.AsArray();
        Assert.NotEmpty(tests);
        foreach (var test in tests.Select(t => t!.AsObject()))
        {
            Assert.All(test.Select(p => p.Key), key => Assert.Contains(key, perTest));
            Assert.False(string.IsNullOrEmpty((string?)test["name"]));
            Assert.InRange((double)test["score"]!, 0, (double)test["max_score"]!);
            Assert.Contains((string)test["status"]!, new[] { "passed", "failed" });
            Assert.Contains((string)test["visibility"]!, visibilities);
            Assert.IsType<string>((string?)test["output"]);
            if (test["tags"] is { } tags)
                Assert.All(tags.AsArray(), tag => Assert.IsType<string>((string?)tag));
        }
        if (results["stdout_visibility"] is { } stdout)
            Assert.Contains((string)stdout!, visibilities);
        if (results["leaderboard"] is { } leaderboard)
            foreach (var entry in leaderboard.AsArray().Select(e => e!.AsObject()))
            {
                Assert.False(string.IsNullOrEmpty((string?)entry["name"]));
                Assert.NotNull(entry["value"]);
                if (entry["order"] is { } order)
                    Assert.Contains((string)order!, new[] { "asc", "desc" });
            }
    }
}

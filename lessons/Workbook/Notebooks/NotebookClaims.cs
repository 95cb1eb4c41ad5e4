using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Workbook.Notebooks;

/// <summary>
/// The lessons print each claim as "yes  &lt;claim&gt;", or "NO   &lt;claim&gt;" when this machine's run contradicts
/// it. These are the claim lines of an executed notebook, whichever kernel ran it: a result with no text/plain (.NET
/// Interactive shows a sequence as text/html only, "[ yes  a, yes  b ]") is read from its text/html.
/// </summary>
static partial class NotebookClaims
{
    /// <summary>What a cell's source contains when the cell checks claims.</summary>
    public const string CheckPattern = "? \"yes\" : \"NO \")";

    /// <summary>A claim line, the index of its cell (counting all cells from 0, as in the file) and its number among the
    /// code cells (from 1, as the runner's messages count), and what else that output printed (its other lines, to explain
    /// a false claim).</summary>
    public sealed record Claim(int Cell, int CodeCell, string Line, string Context = "")
    {
        public bool Holds => Line.StartsWith("yes  ", StringComparison.Ordinal);
    }

    /// <summary>Every claim line the notebook printed, in order.</summary>
    public static List<Claim> Lines(JsonObject executed)
    {
        var claims = new List<Claim>();
        var cells = executed["cells"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
        int code = 0;
        for (int index = 0; index < cells.Count; index++)
        {
            if ((string?)cells[index]["cell_type"] != "code") continue;
            code++;
            foreach (var output in cells[index]["outputs"]?.AsArray().OfType<JsonObject>() ?? [])
            {
                string text = (string?)output["output_type"] == "stream" ? Text(output["text"])
                    : output["data"]?["text/plain"] is { } plain ? Text(plain)
                    : HtmlClaims(Text(output["data"]?["text/html"]));
                var lines = text.Split('\n');
                string context = Shorten(string.Join(" | ", lines.Where(line => !IsClaim(line) && line.Trim().Length > 0)));
                claims.AddRange(lines.Where(IsClaim).Select(line => new Claim(index, code, line, context)));
            }
        }
        return claims;
    }

    /// <summary>True when some code cell's source checks claims.</summary>
    public static bool ChecksClaims(JsonObject notebook) =>
        notebook["cells"]?.AsArray().OfType<JsonObject>()
            .Any(cell => (string?)cell["cell_type"] == "code" && Text(cell["source"]).Contains(CheckPattern, StringComparison.Ordinal)) ?? false;

    /// <summary>
    /// One line per problem, starting with <paramref name="name"/>: every NO line (with its cell as
    /// <paramref name="where"/> names it), and a notebook whose cells check claims but printed no claim line.
    /// </summary>
    public static List<string> Problems(JsonObject executed, string name, Func<Claim, string> where)
    {
        var lines = Lines(executed);
        var problems = lines.Where(c => !c.Holds)
            .Select(c => $"{name}{where(c)}: {c.Line}{(c.Context.Length > 0 ? $" (the cell also printed: {c.Context})" : "")}").ToList();
        if (ChecksClaims(executed) && !lines.Any(c => c.Holds))
            problems.Add($"{name}: its cells check claims, but no claim line was printed");
        return problems;
    }

    static bool IsClaim(string line) => line.StartsWith("yes  ", StringComparison.Ordinal) || line.StartsWith("NO  ", StringComparison.Ordinal);

    /// <summary>At most 400 characters of a cell's other output, so a message stays one readable line.</summary>
    static string Shorten(string text) => text.Length <= 400 ? text : text[..399] + "…";

    /// <summary>The text of an HTML result, one sequence element a line where the elements are claims.</summary>
    static string HtmlClaims(string html)
    {
        string text = WebUtility.HtmlDecode(TagPattern().Replace(StylePattern().Replace(html, ""), ""));
        return string.Join('\n', text.Split('\n').Select(line =>
            SequencePattern().Replace(line.Trim(), "\n").TrimStart('\n')));
    }

    static string Text(JsonNode? text) => text is JsonArray parts ? string.Concat(parts.Select(t => (string?)t)) : (string?)text ?? "";

    [GeneratedRegex("<style[^>]*>.*?</style>", RegexOptions.Singleline)]
    private static partial Regex StylePattern();

    [GeneratedRegex("<[^>]*>")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"(?:^\[ |, )(?=(?:yes|NO ) {2})| \]$")]
    private static partial Regex SequencePattern();
}

using System.Text.Json.Nodes;
using Workbook.Notebooks;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>
/// What an executed notebook must show, whichever kernel ran it (the workbook's runner for RepositoryNotebooksTests,
/// .NET Interactive for RealKernelNotebooksTests): one line per problem, starting with the notebook's file name.
/// </summary>
static class NotebookChecks
{
    /// <summary>Every NO claim line, and a notebook whose cells check claims but printed no claim line (<see cref="NotebookClaims"/>).</summary>
    public static List<string> ClaimProblems(string executedPath) =>
        NotebookClaims.Problems(NotebookFile.Load(executedPath), Path.GetFileName(executedPath), c => $" cells[{c.Cell}]");

    /// <summary>
    /// Every error output of a code cell not tagged raises-exception, as "NOTEBOOK cells[INDEX]: ENAME: EVALUE" (INDEX
    /// counts all cells from 0, as in the file; EVALUE's first line, as the kernel appends the stack trace), with the
    /// cell's first line of stderr, where a compilation error's message is; and every tagged cell that raised nothing,
    /// as the workbook's runner requires.
    /// </summary>
    public static List<string> ErrorProblems(string executedPath)
    {
        var problems = new List<string>();
        string name = Path.GetFileName(executedPath);
        var cells = NotebookFile.Load(executedPath)["cells"]!.AsArray().OfType<JsonObject>().ToList();
        for (int index = 0; index < cells.Count; index++)
        {
            var cell = cells[index];
            if ((string?)cell["cell_type"] != "code")
                continue;
            bool mayRaise = cell["metadata"]?["tags"] is JsonArray tags && tags.Any(tag => (string?)tag == NotebookRunner.RaisesExceptionTag);
            var outputs = cell["outputs"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
            var errors = outputs.Where(output => (string?)output["output_type"] == "error").ToList();
            if (mayRaise)
            {
                if (errors.Count == 0)
                    problems.Add($"{name} cells[{index}]: tagged {NotebookRunner.RaisesExceptionTag} but raised nothing");
                continue;
            }
            string? stderr = outputs
                .Where(output => (string?)output["output_type"] == "stream" && (string?)output["name"] == "stderr")
                .SelectMany(output => Text(output["text"]).Split('\n'))
                .FirstOrDefault(line => line.Trim().Length > 0);
            // A Plotly.NET chart the library's formatters missed shows as .NET Interactive's object tree.
            if (outputs.Any(output => output["data"]?["text/html"] is { } html && !(output["data"]!.AsObject().ContainsKey(Lessons.Plotting.Charts.PlotlyMimeType))
                    && Text(html).Contains("Plotly.NET.Trace", StringComparison.Ordinal)))
                problems.Add($"{name} cells[{index}]: a chart shown as an object tree, not as {Lessons.Plotting.Charts.PlotlyMimeType}");
            problems.AddRange(errors.Select(error =>
                $"{name} cells[{index}]: {(string?)error["ename"]}: {FirstLine((string?)error["evalue"])}{(stderr is null ? "" : $" (stderr: {stderr.Trim()})")}"));
        }
        return problems;
    }

    static string FirstLine(string? text) => (text ?? "").Split('\n')[0].TrimEnd();

    static string Text(JsonNode? text) => text is JsonArray parts ? string.Concat(parts.Select(t => (string?)t)) : (string?)text ?? "";
}

using System.Text.Json.Nodes;
using TestTools;
using Workbook.Notebooks;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

public class NotebookRunnerTests
{
    [Fact]
    public void Sample_notebook_produces_every_output_type()
    {
        var run = NotebookRunner.Run(TestData("sample.ipynb"));

        Assert.True(run.Succeeded, string.Join("\n", run.Errors));
        Assert.Equal((8, 0), (run.CellsRun, run.CellsNotRun));
        var cells = CodeCells(run.Executed);
        Assert.Equal(Enumerable.Range(1, 8), cells.Select(cell => (int)cell["execution_count"]!));

        // #r by a path relative to the notebook, a declaration: no output.
        Assert.Empty(Outputs(cells[0]));

        // State from cell 1; stdout and stderr in the order written.
        Assert.Equal(
            [("stdout", "counter is 42\n"), ("stderr", "a warning\n"), ("stdout", "second line\n")],
            Outputs(cells[1]).Select(o => ((string)o["name"]!, (string)o["text"]!)));
        Assert.All(Outputs(cells[1]), o => Assert.Equal("stream", (string?)o["output_type"]));

        // display(...) twice, then the cell's value.
        var shown = Outputs(cells[2]);
        Assert.Equal(["display_data", "display_data", "execute_result"], shown.Select(o => (string)o["output_type"]!));
        Assert.Equal("shown by display", (string?)shown[0]["data"]!["text/plain"]);
        var gauge = shown[1]["data"]!.AsObject();
        // Only the mime types the type's formatter source prefers, as the kernel shows it.
        Assert.Equal(["application/vnd.gauge.v1+json", "text/html"], gauge.Select(entry => entry.Key).Order());
        Assert.Equal(0.75, (double)gauge["application/vnd.gauge.v1+json"]!["level"]!);
        Assert.Equal("<meter value=\"0.75\"></meter>", (string?)gauge["text/html"]);
        // The kernel's formatting of a number: text/html only.
        Assert.Equal(["text/html"], shown[2]["data"]!.AsObject().Select(entry => entry.Key));
        Assert.StartsWith("<div class=\"dni-plaintext\"><pre>42</pre></div>", (string?)shown[2]["data"]!["text/html"]);
        Assert.Equal(3, (int)shown[2]["execution_count"]!);

        // A sequence: the kernel's list, capped at 20 items.
        var sequence = (string)Outputs(cells[3]).Single()["data"]!["text/html"]!;
        Assert.StartsWith($"<div class=\"dni-plaintext\"><pre>[ {string.Join(", ", Enumerable.Range(1, 20))} ... (5 more) ]</pre></div>", sequence);

        // raises-exception cells: a runtime exception and a compilation error, both kept as error outputs.
        var thrown = Outputs(cells[4]).Single();
        Assert.Equal(("error", "System.InvalidOperationException", "expected failure"),
            ((string)thrown["output_type"]!, (string)thrown["ename"]!, (string)thrown["evalue"]!));
        Assert.NotEmpty(thrown["traceback"]!.AsArray());
        var rejected = Outputs(cells[5]).Single();
        Assert.Equal("CompilationError", (string?)rejected["ename"]);
        Assert.Contains("error CS8377", (string?)rejected["evalue"]); // string is not unmanaged

        // The working directory is the notebook's folder.
        Assert.Equal("data next to the notebook\n", (string?)Outputs(cells[6]).Single()["data"]!["text/plain"]);

        // #!csharp is stripped; a void call without a semicolon has no value.
        Assert.Equal("84", (string?)Outputs(cells[7]).Single()["text"]);

        // Markdown and metadata untouched; the source file is not modified.
        var source = NotebookFile.Load(TestData("sample.ipynb"));
        Assert.True(JsonNode.DeepEquals(source["metadata"], run.Executed["metadata"]));
        Assert.True(JsonNode.DeepEquals(source["cells"]![1], run.Executed["cells"]![1]));
        Assert.All(CodeCells(source), cell => Assert.Empty(Outputs(cell)));
    }

    [RequiresTool(Tool.Nbformat)]
    public void Executed_sample_is_valid_nbformat()
    {
        using var temp = new TempFolder();
        var run = NotebookRunner.Run(TestData("sample.ipynb"));
        NotebookFile.Save(run.Executed, temp.File("sample.ipynb"));

        AssertValidNbformat(temp.File("sample.ipynb"));
        Assert.EndsWith("}\n", File.ReadAllText(temp.File("sample.ipynb")));
    }

    [Fact]
    public void Runtime_error_stops_the_notebook_at_that_cell()
    {
        var run = RunCells(
            NotebookFile.CodeCell("var x = 1;"),
            NotebookFile.CodeCell("throw new InvalidOperationException(\"boom\");"),
            NotebookFile.CodeCell("x + 1"));

        Assert.Equal([new CellError(2, "System.InvalidOperationException: boom")], run.Errors);
        Assert.Equal((2, 1), (run.CellsRun, run.CellsNotRun));
        var cells = CodeCells(run.Executed);
        Assert.Equal("boom", (string?)Outputs(cells[1]).Single()["evalue"]);
        Assert.Null(cells[2]["execution_count"]);
        Assert.Empty(Outputs(cells[2]));
    }

    [Fact]
    public void Compilation_error_names_the_cell_and_the_diagnostic()
    {
        var run = RunCells(NotebookFile.CodeCell("1"), NotebookFile.CodeCell("\nint x = \"text\";"), NotebookFile.CodeCell("2"));

        var error = Assert.Single(run.Errors);
        Assert.Equal(2, error.Cell);
        Assert.StartsWith("CompilationError: (2,9): error CS0029:", error.Message);
        Assert.Equal("CompilationError", (string?)Outputs(CodeCells(run.Executed)[1]).Single()["ename"]);
        Assert.Equal(1, run.CellsNotRun);
    }

    [Theory]
    [InlineData("#r \"nuget: Plotly.NET, 4.0.0\"", "'#r \"nuget:...\"' is not supported by the workbook runner: reference the built library with #r \"path/to/dll\"")]
    [InlineData("#!fsharp\nlet x = 1", "'#!fsharp' is not supported by the workbook runner")]
    [InlineData("#!time\n1 + 1", "'#!time' is not supported by the workbook runner")]
    public void Unsupported_cells_get_a_clear_message_naming_the_cell(string source, string message)
    {
        var run = RunCells(NotebookFile.CodeCell("1"), NotebookFile.CodeCell("2"), NotebookFile.CodeCell(source));

        var error = Assert.Single(run.Errors);
        Assert.Equal(3, error.Cell);
        Assert.StartsWith(message, error.Message);
        var output = Outputs(CodeCells(run.Executed)[2]).Single();
        Assert.Equal("UnsupportedCell", (string?)output["ename"]);
        Assert.StartsWith($"cell 3: {message}", (string?)output["evalue"]);
    }

    [Fact]
    public void A_cell_whose_metadata_names_another_language_is_not_run()
    {
        var cell = NotebookFile.CodeCell("printfn \"hi\"");
        cell["metadata"]!["dotnet_interactive"]!["language"] = "fsharp";

        var error = Assert.Single(RunCells(cell).Errors);

        Assert.Equal(new CellError(1, "a 'fsharp' cell (cell metadata) is not supported by the workbook runner: only C# cells run; make it a C# cell or a markdown cell"), error);
    }

    [Fact]
    public void A_raises_exception_cell_that_does_not_raise_is_an_error()
    {
        var run = RunCells(NotebookFile.CodeCell("1 + 1", NotebookRunner.RaisesExceptionTag), NotebookFile.CodeCell("2"));

        Assert.Equal([new CellError(1, "marked raises-exception but ran without error")], run.Errors);
        Assert.Equal(["execute_result", "error"], Outputs(CodeCells(run.Executed)[0]).Select(o => (string)o["output_type"]!));
        Assert.Equal(1, run.CellsNotRun);
    }

    [Fact]
    public void A_cell_past_its_timeout_is_reported_and_the_rest_skipped()
    {
        var run = RunCells(TimeSpan.FromSeconds(0.5),
            NotebookFile.CodeCell("System.Threading.Thread.Sleep(3000);"), NotebookFile.CodeCell("1"));

        var error = Assert.Single(run.Errors);
        Assert.Equal(1, error.Cell);
        Assert.StartsWith("did not finish within 0.5 s", error.Message);
        Assert.Equal(1, run.CellsNotRun);
    }

    static NotebookRun RunCells(params JsonObject[] cells) => RunCells(null, cells);

    static NotebookRun RunCells(TimeSpan? timeout, params JsonObject[] cells)
    {
        using var temp = new TempFolder();
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(cells), temp.File("test.ipynb"));
        return NotebookRunner.Run(temp.File("test.ipynb"), timeout);
    }
}

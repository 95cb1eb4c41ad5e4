using System.Text.Json.Nodes;
using TestTools;
using Workbook.Notebooks;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

public class NotebookFileTests
{
    static JsonObject Created() => NotebookFile.CreateEmpty()
        .WithCells(NotebookFile.MarkdownCell("# Title"), NotebookFile.CodeCell("1 + 1", NotebookRunner.RaisesExceptionTag));

    [Fact]
    public void A_created_notebook_has_the_kernel_metadata_and_round_trips()
    {
        using var temp = new TempFolder();
        var notebook = Created();
        NotebookFile.Save(notebook, temp.File("created.ipynb"));

        Assert.Empty(NotebookFile.CheckMetadata(notebook));
        Assert.True(JsonNode.DeepEquals(notebook, NotebookFile.Load(temp.File("created.ipynb"))));
    }

    [RequiresTool(Tool.Nbformat)]
    public void A_created_notebook_validates()
    {
        using var temp = new TempFolder();
        NotebookFile.Save(Created(), temp.File("created.ipynb"));
        AssertValidNbformat(temp.File("created.ipynb"));
    }

    [Fact]
    public void The_sample_notebook_has_the_kernel_metadata() =>
        Assert.Empty(NotebookFile.CheckMetadata(NotebookFile.Load(TestData("sample.ipynb"))));

    [Fact]
    public void Missing_metadata_is_listed()
    {
        var notebook = new JsonObject
        {
            ["cells"] = new JsonArray(
                NotebookFile.MarkdownCell("text"), NotebookFile.CodeCell("1"), new JsonObject { ["cell_type"] = "code", ["source"] = "2" }),
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["name"] = "python3" } },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 2,
        };

        Assert.Equal(
        [
            "metadata.kernelspec.name is \"python3\" (expected \".net-csharp\")",
            "metadata.language_info.name is missing (expected \"polyglot-notebook\")",
            "metadata.polyglot_notebook.kernelInfo.defaultKernelName is missing (expected \"csharp\")",
            "cell 2 (code cells counted from 1) lacks the cell metadata {\"dotnet_interactive\": {\"language\": \"csharp\"}, \"polyglot_notebook\": {\"kernelName\": \"csharp\"}}",
        ], NotebookFile.CheckMetadata(notebook));
    }

    [Fact]
    public void Source_may_be_a_string_or_a_list_of_lines()
    {
        Assert.Equal("a\nb", NotebookFile.Source(new JsonObject { ["source"] = "a\nb" }));
        Assert.Equal("a\nb", NotebookFile.Source(new JsonObject { ["source"] = new JsonArray("a\n", "b") }));
    }

    [Fact]
    public void Loading_something_that_is_not_a_notebook_says_so()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("list.ipynb"), "[]");

        var error = Assert.Throws<InvalidDataException>(() => NotebookFile.Load(temp.File("list.ipynb")));

        Assert.Contains("is not a Jupyter notebook", error.Message);
    }
}

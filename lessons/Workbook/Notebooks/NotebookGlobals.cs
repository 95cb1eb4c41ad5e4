using System.Text.Json.Nodes;

namespace Workbook.Notebooks;

/// <summary>What every notebook cell sees as globals, as in the .NET Interactive C# kernel.</summary>
public sealed class NotebookGlobals
{
    internal CellOutputs? Outputs { get; set; }

    /// <summary>Shows a value below the cell (a display_data output), like display(...) in .NET Interactive.</summary>
    /// <remarks>Lower-case on purpose: it is the name notebooks use with the real kernel.</remarks>
    public void display(object? value) =>
        (Outputs ?? throw new InvalidOperationException("display(...) works only while a notebook cell runs"))
        .Add(new JsonObject
        {
            ["data"] = DisplayFormatter.Format(value),
            ["metadata"] = new JsonObject(),
            ["output_type"] = "display_data",
        });
}

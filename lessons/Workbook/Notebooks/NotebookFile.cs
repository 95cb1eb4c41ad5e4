using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Notebooks;

/// <summary>
/// Reads, writes, creates and checks Jupyter notebooks (nbformat 4) with the metadata of the .NET Interactive
/// C# kernel (the README's "Conventions" lists it). Notebooks stay <see cref="JsonObject"/>s, so fields this code does not
/// know survive a round trip.
/// </summary>
// Not Microsoft.DotNet.Interactive.Documents: its InteractiveDocument keeps only the fields it models, and its writer
// refuses a JSON-object output value (the nbformat form of application/vnd.plotly.v1+json) that its own reader produced.
public static class NotebookFile
{
    public const string KernelName = ".net-csharp";
    public const string LanguageInfoName = "polyglot-notebook";
    public const string CellLanguage = "csharp";

    static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        IndentSize = 1,
        // Like Jupyter (ensure_ascii=False): keep '<', '&', quotes and non-ASCII text readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static JsonObject Load(string path)
    {
        var node = JsonNode.Parse(File.ReadAllText(path));
        if (node is not JsonObject notebook || notebook["cells"] is not JsonArray cells)
            throw new InvalidDataException($"{path} is not a Jupyter notebook: expected a JSON object with a \"cells\" array");
        for (var i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject cell || !IsString(cell["cell_type"]))
                throw new InvalidDataException($"{path}: cell {i + 1} (of all cells) is not an object with a string \"cell_type\"");
            var source = cell["source"];
            if (!(source is null || IsString(source) || source is JsonArray lines && lines.All(IsString)))
                throw new InvalidDataException($"{path}: cell {i + 1} (of all cells): \"source\" must be a string or a list of strings");
        }
        return notebook;
    }

    static bool IsString(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String;

    /// <summary>Writes the notebook as Jupyter does: indent 1, trailing newline.</summary>
    public static void Save(JsonObject notebook, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, notebook.ToJsonString(WriteOptions) + "\n");
    }

    /// <summary>An nbformat 4.5 notebook with no cells and the C# kernel metadata.</summary>
    public static JsonObject CreateEmpty() => new()
    {
        ["cells"] = new JsonArray(),
        ["metadata"] = new JsonObject
        {
            ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = KernelName },
            ["language_info"] = new JsonObject { ["name"] = LanguageInfoName },
            ["polyglot_notebook"] = new JsonObject
            {
                ["kernelInfo"] = new JsonObject
                {
                    ["defaultKernelName"] = CellLanguage,
                    ["items"] = new JsonArray(new JsonObject { ["aliases"] = new JsonArray(), ["name"] = CellLanguage }),
                },
            },
        },
        ["nbformat"] = 4,
        ["nbformat_minor"] = 5,
    };

    /// <summary>A C# code cell without outputs; <paramref name="tags"/> go to metadata.tags (e.g. "raises-exception").</summary>
    public static JsonObject CodeCell(string source, params string[] tags)
    {
        var metadata = new JsonObject
        {
            ["dotnet_interactive"] = new JsonObject { ["language"] = CellLanguage },
            ["polyglot_notebook"] = new JsonObject { ["kernelName"] = CellLanguage },
        };
        if (tags.Length > 0)
            metadata["tags"] = new JsonArray([.. tags.Select(tag => JsonValue.Create(tag))]);
        return new JsonObject
        {
            ["cell_type"] = "code",
            ["execution_count"] = null,
            ["id"] = NewCellId(),
            ["metadata"] = metadata,
            ["outputs"] = new JsonArray(),
            ["source"] = source,
        };
    }

    public static JsonObject MarkdownCell(string source) => new()
    {
        ["cell_type"] = "markdown",
        ["id"] = NewCellId(),
        ["metadata"] = new JsonObject(),
        ["source"] = source,
    };

    /// <summary>Appends cells; returns the notebook, so a test or script can build one in an expression.</summary>
    public static JsonObject WithCells(this JsonObject notebook, params JsonObject[] cells)
    {
        var array = notebook["cells"]!.AsArray();
        foreach (var cell in cells)
            array.Add(cell);
        return notebook;
    }

    /// <summary>A cell's source, which nbformat stores as a string or as a list of lines.</summary>
    public static string Source(JsonObject cell) => cell["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(line => line?.GetValue<string>())),
        JsonValue text => text.GetValue<string>(),
        _ => "",
    };

    /// <summary>
    /// What is missing from the metadata the README's "Conventions" lists (kernelspec, language_info, polyglot_notebook
    /// kernel info, each code cell's language); an empty list when nothing is.
    /// </summary>
    public static IReadOnlyList<string> CheckMetadata(JsonObject notebook)
    {
        var problems = new List<string>();
        var metadata = notebook["metadata"] as JsonObject;
        Expect(metadata?["kernelspec"]?["name"], KernelName, "metadata.kernelspec.name");
        Expect(metadata?["language_info"]?["name"], LanguageInfoName, "metadata.language_info.name");
        Expect(metadata?["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"], CellLanguage,
            "metadata.polyglot_notebook.kernelInfo.defaultKernelName");

        var cells = notebook["cells"]?.AsArray().OfType<JsonObject>().ToList() ?? [];
        var bareCells = cells
            .Where(cell => (string?)cell["cell_type"] == "code")
            .Select((cell, index) => (cell, number: index + 1))
            .Where(c => c.cell["metadata"]?["dotnet_interactive"]?["language"] is null
                        || c.cell["metadata"]?["polyglot_notebook"]?["kernelName"] is null)
            .Select(c => c.number)
            .ToList();
        if (bareCells.Count > 0)
            problems.Add($"{(bareCells.Count == 1 ? "cell" : "cells")} {string.Join(", ", bareCells)} (code cells counted from 1) "
                         + $"{(bareCells.Count == 1 ? "lacks" : "lack")} the cell metadata "
                         + "{\"dotnet_interactive\": {\"language\": \"csharp\"}, \"polyglot_notebook\": {\"kernelName\": \"csharp\"}}");

        if ((int?)notebook["nbformat_minor"] >= 5 && cells.Any(cell => cell["id"] is null))
            problems.Add("nbformat 4.5 needs an \"id\" on every cell; some cells have none");
        return problems;

        void Expect(JsonNode? actual, string expected, string path)
        {
            var value = actual is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (value != expected)
                problems.Add(value is null
                    ? $"{path} is missing (expected \"{expected}\")"
                    : $"{path} is \"{value}\" (expected \"{expected}\")");
        }
    }

    static string NewCellId() => Guid.NewGuid().ToString("N")[..8];
}

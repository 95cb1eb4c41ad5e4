using System.Text;
using System.Text.Json.Nodes;

namespace Workbook.Notebooks;

/// <summary>
/// The outputs of one cell in the order they happened. Consecutive writes to the same stream join one
/// "stream" output, as in Jupyter. Thread-safe: a cell may write from several threads.
/// </summary>
sealed class CellOutputs
{
    readonly List<object> _outputs = []; // a JsonObject, or a (stream name, text) pair still growing
    readonly Lock _lock = new();

    public void Write(string stream, string text)
    {
        if (text.Length == 0)
            return;
        lock (_lock)
        {
            if (_outputs.Count > 0 && _outputs[^1] is StreamText last && last.Name == stream)
                last.Text.Append(text);
            else
                _outputs.Add(new StreamText(stream, new StringBuilder(text)));
        }
    }

    public void Add(JsonObject output)
    {
        lock (_lock)
            _outputs.Add(output);
    }

    public JsonArray ToJson()
    {
        lock (_lock)
            return new JsonArray([.. _outputs.Select(output => output switch
            {
                StreamText s => new JsonObject { ["name"] = s.Name, ["output_type"] = "stream", ["text"] = s.Text.ToString() },
                JsonObject json => json.DeepClone(),
                _ => throw new InvalidOperationException("unknown output"),
            })]);
    }

    sealed record StreamText(string Name, StringBuilder Text);
}

using System.Text;
using System.Text.Json.Nodes;

namespace Workbook.Notebooks;

/// <summary>
/// The outputs of one cell in the order they happened. Consecutive writes to the same stream join one
/// "stream" output, as in Jupyter. Thread-safe: a cell may write from several threads. A cell keeps at most
/// <see cref="MaxChars"/> characters of output (a cell printing two million lines made a 27 MB notebook); what is cut
/// is counted and said at the end of its outputs.
/// </summary>
sealed class CellOutputs
{
    /// <summary>1 Mi characters: the lessons' largest cell (a chart) has 230 k.</summary>
    public const int MaxChars = 1 << 20;

    readonly List<object> _outputs = []; // a JsonObject, or a (stream name, text) pair still growing
    readonly Lock _lock = new();
    int _kept;

    /// <summary>Characters of output not kept (0 when all was).</summary>
    public long Dropped { get; private set; }

    public void Write(string stream, string text)
    {
        if (text.Length == 0)
            return;
        lock (_lock)
        {
            var room = MaxChars - _kept;
            if (text.Length > room)
            {
                Dropped += text.Length - room;
                text = text[..room];
                if (text.Length == 0) return;
            }
            _kept += text.Length;
            if (_outputs.Count > 0 && _outputs[^1] is StreamText last && last.Name == stream)
                last.Text.Append(text);
            else
                _outputs.Add(new StreamText(stream, new StringBuilder(text)));
        }
    }

    /// <summary>Adds an output; an error output is always kept, another one only while the cell is under its cap.</summary>
    public void Add(JsonObject output)
    {
        var size = output.ToJsonString().Length;
        lock (_lock)
        {
            if ((string?)output["output_type"] != "error" && _kept + size > MaxChars)
            {
                Dropped += size;
                return;
            }
            _kept += size;
            _outputs.Add(output);
        }
    }

    public JsonArray ToJson()
    {
        lock (_lock)
        {
            var outputs = new JsonArray([.. _outputs.Select(output => output switch
            {
                StreamText s => Stream(s.Name, s.Text.ToString()),
                JsonObject json => json.DeepClone(),
                _ => throw new InvalidOperationException("unknown output"),
            })]);
            if (Dropped > 0)
                outputs.Add(Stream("stderr", $"\n[workbook run: {Dropped:N0} more characters of output not kept: a cell keeps {MaxChars:N0}]\n"));
            return outputs;
        }
    }

    static JsonObject Stream(string name, string text) => new() { ["name"] = name, ["output_type"] = "stream", ["text"] = text };

    sealed record StreamText(string Name, StringBuilder Text);
}

using System.Globalization;
using System.Text;

namespace Lessons.Heap;

/// <summary>
/// The ops' bookkeeping by CMU mdriver's rules (a superset of classic's), noting where classic would refuse, and
/// the slots the replay uses (see <see cref="Trace.ReplaySpan"/>).
/// </summary>
sealed class TraceSemantics(int idCount)
{
    enum State : byte { Never, Live, Freed }

    // file id → its slot (0 until it gets one), its state and the line of its last a/r/f.
    readonly Dictionary<int, (int Slot, State State, int Line)> ids = [];

    public List<ReplayOp> Replay { get; } = [];

    public int SlotCount { get; private set; } = 1;

    /// <summary>
    /// Records one op. Classic: why classic refuses it (or null). Meaning: what CMU makes of an op classic refuses
    /// (null when classic accepts it). Cmu: why CMU refuses it (then classic refuses it too).
    /// </summary>
    public (string? Classic, string? Meaning, string? Cmu) Step(TraceOp op)
    {
        int id = op.Id;
        if (id == -1 && op.Kind == TraceOpKind.Free)
        {
            Replay.Add(new ReplayOp(TraceOpKind.Free, 0, 0));
            return ($"'f -1' frees id -1: the header says {Range()} (only CMU traces use -1, for NULL)", "'f -1' is free(NULL)", null);
        }
        if (id < 0 || id >= idCount)
        {
            string problem = $"id {id} is out of range: the header says {Range()}" + (id == -1 ? "; only 'f -1' (free(NULL), in CMU traces) may name -1" : "");
            return (problem, null, problem);
        }
        var (slot, state, line) = ids.GetValueOrDefault(id);
        switch (op.Kind)
        {
            case TraceOpKind.Alloc:
            {
                string? classic = state == State.Live ? $"'{op}' allocates id {id}, which is still allocated (free it first)" : null;
                if (state == State.Live || slot == 0) slot = SlotCount++;
                ids[id] = (slot, State.Live, op.Line);
                Replay.Add(new ReplayOp(op.Kind, slot, op.Size));
                return (classic, classic is null ? null : $"'{op}' allocates id {id} while its block of line {line} is live: that block is leaked (stays allocated)", null);
            }
            case TraceOpKind.Realloc:
            {
                if (state == State.Freed) return Dangling(op, line, "realloc");
                if (slot == 0) slot = SlotCount++;
                ids[id] = (slot, State.Live, op.Line);
                Replay.Add(new ReplayOp(op.Kind, slot, op.Size));
                return state == State.Live
                    ? (null, null, null)
                    : ($"'{op}' reallocates id {id}, which is not allocated", $"'{op}' reallocates id {id}, never allocated: realloc(NULL, {op.Size})", null);
            }
            default:
            {
                if (state == State.Freed) return Dangling(op, line, "free");
                if (state == State.Never)
                {
                    Replay.Add(new ReplayOp(TraceOpKind.Free, 0, 0));
                    return ($"'{op}' frees id {id}, which is not allocated", $"'{op}' frees id {id}, never allocated: free(NULL)", null);
                }
                ids[id] = (slot, State.Freed, op.Line);
                Replay.Add(new ReplayOp(TraceOpKind.Free, slot, 0));
                return (null, null, null);
            }
        }
    }

    static (string?, string?, string?) Dangling(TraceOp op, int freedAt, string call)
    {
        string problem = $"'{op}' {(call == "free" ? "frees" : "reallocates")} id {op.Id}, which is not allocated: it was freed at line {freedAt} " +
                         $"(mdriver would pass {call} a dangling pointer)";
        return (problem, null, problem);
    }

    string Range() => idCount == 0 ? "0 ids" : $"{idCount} ids (0..{idCount - 1})";
}

/// <summary>Reads lines like <see cref="TextReader.ReadLine"/> (\n, \r\n or \r end one), refusing one longer than a limit.</summary>
sealed class BoundedLineReader(TextReader reader, int maxLength)
{
    readonly char[] buffer = new char[16384];
    readonly StringBuilder line = new();
    int pos, end;
    bool skipLf;

    /// <summary>True after <see cref="ReadLine"/> returned null because a line was too long.</summary>
    public bool TooLong { get; private set; }

    public string? ReadLine()
    {
        line.Clear();
        bool any = false;
        while (true)
        {
            if (pos == end)
            {
                end = reader.Read(buffer, 0, buffer.Length);
                pos = 0;
                if (end <= 0)
                {
                    end = 0;
                    return any ? line.ToString() : null;
                }
            }
            char c = buffer[pos++];
            if (skipLf)
            {
                skipLf = false;
                if (c == '\n') continue;
            }
            any = true;
            if (c == '\n') return line.ToString();
            if (c == '\r')
            {
                skipLf = true;
                return line.ToString();
            }
            if (line.Length == maxLength)
            {
                TooLong = true;
                return null;
            }
            line.Append(c);
        }
    }
}

/// <summary>The .rep parser behind <see cref="Trace.Parse(TextReader, string, string?, TraceFormat?)"/>: reads once, judging both formats.</summary>
static class TraceParser
{
    const int HeaderLines = Trace.HeaderLines;

    // length: the file's size in characters, if known (the header's op count must fit in it); maxOps: the most ops accepted.
    public static Trace Parse(TextReader reader, string name, string file, TraceFormat? format, long? length, int maxOps)
    {
        var lines = new BoundedLineReader(reader, Trace.MaxLineLength);
        int lineNumber = 0;
        string? line;

        string[] headerNames = format == TraceFormat.Cmu
            ? ["the weight", "the number of ids", "the number of ops", "ignore-ranges"]
            : ["the suggested heap size", "the number of ids", "the number of ops", "the weight"];
        string headerForm = format == TraceFormat.Cmu
            ? "a CMU trace starts with 4 numbers: weight, ids, ops, ignore-ranges"
            : "a trace starts with 4 numbers: heap size hint, ids, ops, weight (CMU: weight, ids, ops, ignore-ranges)";
        var header = new long[HeaderLines];
        var at = new int[HeaderLines];   // each number's line
        int got = 0;
        while (got < HeaderLines)
        {
            line = lines.ReadLine();
            if (line is null)
            {
                if (lines.TooLong) throw TooLong(file, lineNumber + 1);
                throw new TraceFormatException(file, Math.Max(lineNumber, 1), $"the file ends before the header's {headerNames[got]} ({headerForm})");
            }
            lineNumber++;
            foreach (var field in Fields(line))
            {
                if (got == HeaderLines)
                    throw new TraceFormatException(file, lineNumber, $"'{field}' after the header's 4 numbers (ops start on the next line)");
                if (!long.TryParse(field, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out header[got]) || header[got] < 0)
                    throw new TraceFormatException(file, lineNumber, $"{headerNames[got]} must be a whole number ≥ 0, not '{field}'");
                at[got++] = lineNumber;
            }
        }
        if (header[1] > int.MaxValue) throw new TraceFormatException(file, at[1], $"{header[1]} ids are more than this driver handles ({int.MaxValue})");
        if (header[2] > maxOps)
            throw new TraceFormatException(file, at[2], $"{header[2]:N0} ops are more than this driver handles ({maxOps:N0}" +
                (maxOps < Trace.MaxOps ? $": at most {MallocLab.MaxTotalOps:N0} in all traces, and those before this one hold {MallocLab.MaxTotalOps - maxOps:N0})" : ")"));
        if (length is { } chars && header[2] > (chars + 1) / 4)
            throw new TraceFormatException(file, at[2],
                $"the header says {header[2]:N0} ops, but a file of {chars:N0} bytes holds at most {(chars + 1) / 4:N0} (an op takes at least 4 bytes, like 'f 0' and its line end)");
        if (header[3] > int.MaxValue) throw new TraceFormatException(file, at[3], $"{headerNames[3]} {header[3]} is too large");
        string? notCmu = header[0] > 3 ? $"its first number, {header[0]}, is not a weight 0..3"
            : header[3] > 1 ? $"its fourth number, {header[3]}, is not an ignore-ranges 0 or 1" : null;
        if (format == TraceFormat.Cmu && notCmu is not null)
            throw new TraceFormatException(file, at[header[0] > 3 ? 0 : 3], $"not a CMU header (weight 0..3, ids, ops, ignore-ranges 0 or 1): {notCmu}");
        int ids = (int)header[1], count = (int)header[2];

        var ops = new List<TraceOp>(Math.Min(count, 1 << 16));
        var semantics = new TraceSemantics(ids);
        (int Line, string Meaning)? classicFailed = null;   // the first op classic refuses (auto or --format cmu)

        // Classic refuses the op at `at`: with classic rules that is the error; otherwise CMU's reading goes on.
        void ClassicRefuses(int at, string problem, string? meaning)
        {
            if (format == TraceFormat.Classic || meaning is null || (format is null && notCmu is not null))
                throw new TraceFormatException(file, at, problem + (format is null && meaning is not null
                    ? $" (CMU traces allow this, but this header is not a CMU one: {notCmu})" : ""));
            classicFailed ??= (at, $"line {at}: {meaning}");
        }

        while ((line = lines.ReadLine()) is not null)
        {
            lineNumber++;
            var fields = Fields(line);
            if (fields.Count == 0) continue;
            if (ops.Count == count)
            {
                ClassicRefuses(lineNumber, $"more ops than the header's {count}", $"lines past the header's {count} ops are ignored");
                break;
            }
            var op = ParseOp(fields, file, lineNumber);
            var (classic, meaning, cmu) = semantics.Step(op);
            if (cmu is not null)
                throw new TraceFormatException(file, lineNumber, format == TraceFormat.Classic ? classic!
                    : format is null && classicFailed is { } k ? $"{cmu} (read as a CMU trace because of {k.Meaning})" : cmu);
            if (classic is not null) ClassicRefuses(lineNumber, classic, meaning);
            ops.Add(op);
        }
        if (lines.TooLong) throw TooLong(file, lineNumber + 1);
        if (ops.Count < count)
            throw new TraceFormatException(file, Math.Max(lineNumber, 1), $"the file ends after {ops.Count} ops, but the header says {count} (truncated?)");

        TraceFormat chosen = format ?? (classicFailed is null ? TraceFormat.Classic : TraceFormat.Cmu);
        string reason = (format, chosen) switch
        {
            (null, TraceFormat.Classic) => notCmu is null ? "its header reads as CMU too: the same calls either way" : "",
            (null, _) => classicFailed!.Value.Meaning,
            _ => $"--format {chosen.ToString().ToLowerInvariant()}" + (classicFailed is { } c ? $"; {c.Meaning}" : ""),
        };
        return Trace.FromParser(name, chosen, reason, header, [.. ops], semantics);
    }

    static TraceFormatException TooLong(string file, int line) =>
        new(file, line, $"the line is longer than {Trace.MaxLineLength:N0} characters (a trace line is a number or an op like 'a 12 4096')");

    static List<string> Fields(string line) =>
        line.Split([' ', '\t', '\r', '\f', '\v'], StringSplitOptions.RemoveEmptyEntries).ToList();

    static TraceOp ParseOp(List<string> fields, string file, int line)
    {
        var kind = fields[0] switch
        {
            "a" => TraceOpKind.Alloc,
            "r" => TraceOpKind.Realloc,
            "f" => TraceOpKind.Free,
            _ => throw new TraceFormatException(file, line, $"unknown op '{fields[0]}' (expected 'a id size', 'r id size' or 'f id')"),
        };
        int wanted = kind == TraceOpKind.Free ? 2 : 3;
        string form = kind == TraceOpKind.Free ? $"'{fields[0]} id'" : $"'{fields[0]} id size'";
        if (fields.Count != wanted)
            throw new TraceFormatException(file, line, $"{form} needs {wanted - 1} number{(wanted == 2 ? "" : "s")} after the op, found {fields.Count - 1}");
        int id = Number(fields[1], "the id", file, line);
        int size = 0;
        if (kind != TraceOpKind.Free)
        {
            size = Number(fields[2], "the size", file, line);
            if (size < 0) throw new TraceFormatException(file, line, $"size {size} is negative");
        }
        return new TraceOp(kind, id, size, line);
    }

    static int Number(string text, string what, string file, int line)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
        {
            if (v > int.MaxValue) throw new TraceFormatException(file, line, $"{what} {v} is too large (at most {int.MaxValue}, a C int as in mdriver)");
            if (v < int.MinValue) throw new TraceFormatException(file, line, $"{what} {v} is negative");
            return (int)v;
        }
        throw new TraceFormatException(file, line, $"{what} must be a whole number, not '{text}'");
    }
}

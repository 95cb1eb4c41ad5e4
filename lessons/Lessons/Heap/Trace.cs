using System.Globalization;
using System.Text;

namespace Lessons.Heap;

/// <summary>The three requests of a malloc-lab trace.</summary>
public enum TraceOpKind
{
    /// <summary><c>a id size</c>: <c>malloc(size)</c>, remembered as block <c>id</c>.</summary>
    Alloc,
    /// <summary><c>r id size</c>: <c>realloc(block id, size)</c>.</summary>
    Realloc,
    /// <summary><c>f id</c>: <c>free(block id)</c>.</summary>
    Free,
}

/// <summary>One request of a trace: its kind, block id, size (0 for a free) and the file line it came from (0 if built in code).</summary>
public readonly record struct TraceOp(TraceOpKind Kind, int Id, int Size, int Line = 0)
{
    public static TraceOp Alloc(int id, int size) => new(TraceOpKind.Alloc, id, size);

    public static TraceOp Realloc(int id, int size) => new(TraceOpKind.Realloc, id, size);

    public static TraceOp Free(int id) => new(TraceOpKind.Free, id, 0);

    /// <summary>The op as a trace line: <c>a 3 48</c>, <c>r 3 96</c>, <c>f 3</c>.</summary>
    public override string ToString() => Kind switch
    {
        TraceOpKind.Alloc => $"a {Id} {Size}",
        TraceOpKind.Realloc => $"r {Id} {Size}",
        _ => $"f {Id}",
    };
}

/// <summary>A trace file that is not a valid malloc-lab trace: the file, the 1-based line, and what is wrong.</summary>
public sealed class TraceFormatException(string file, int line, string problem)
    : FormatException($"{file}:{line}: {problem}")
{
    /// <summary>The trace's name or path, as given to the parser.</summary>
    public string File { get; } = file;

    /// <summary>The 1-based line of the problem (the last line for a file that ends too early).</summary>
    public int Line { get; } = line;

    /// <summary>What is wrong, without the file and line.</summary>
    public string Problem { get; } = problem;
}

/// <summary>
/// A CS:APP malloc-lab trace (a <c>.rep</c> file): a header of four numbers, then one request per line.
/// <code>
/// 20000        suggested heap size (mdriver ignores it; the driver here sizes its arena from it)
/// 2            number of block ids (ids are 0 .. ids-1)
/// 5            number of ops
/// 1            weight (mdriver ignores it)
/// a 0 512      malloc(512), remembered as block 0
/// a 1 128
/// r 0 640      realloc(block 0, 640)
/// f 1          free(block 1)
/// f 0
/// </code>
/// What the parser accepts is what mdriver accepts (it reads the file with <c>fscanf</c>): any white space between
/// fields, blank lines, CR LF line ends, the four header numbers on one or several lines. There is no comment
/// syntax. One op per line. A size may be 0 (<c>a id 0</c> is <c>malloc(0)</c>, <c>r id 0</c> frees the block; the
/// id then holds a null pointer that may be freed or reallocated). The weight may be any number ≥ 0 (CMU's newer
/// traces use 0..3). Ids need not all be used (mdriver asserts that the largest id is ids-1; this parser does not).
/// Refused, with <see cref="TraceFormatException"/> naming the file and line: a missing or non-numeric header
/// number, an unknown op, a missing or non-numeric field, an id outside [0, ids), a negative size or one above
/// <see cref="int.MaxValue"/> (mdriver's sizes are C ints), freeing or reallocating an id that is not allocated,
/// allocating an id that is still allocated (mdriver would lose the first block), fewer or more ops than the header says.
/// </summary>
public sealed class Trace
{
    Trace(string name, long heapSizeHint, int idCount, int weight, TraceOp[] ops)
    {
        Name = name;
        HeapSizeHint = heapSizeHint;
        IdCount = idCount;
        Weight = weight;
        this.ops = ops;
        long live = 0, peak = 0;
        var sizes = new long[idCount];
        foreach (var op in ops)
        {
            live += op.Kind == TraceOpKind.Free ? -sizes[op.Id] : op.Size - sizes[op.Id];
            sizes[op.Id] = op.Kind == TraceOpKind.Free ? 0 : op.Size;
            peak = Math.Max(peak, live);
        }
        PeakPayload = peak;
    }

    readonly TraceOp[] ops;

    /// <summary>The trace's name: its file name without the directory (e.g. <c>binary-bal.rep</c>).</summary>
    public string Name { get; }

    /// <summary>The first header number, the suggested heap size in bytes (not always meaningful: some public traces say 1).</summary>
    public long HeapSizeHint { get; }

    /// <summary>The number of block ids: every op's id is in [0, IdCount).</summary>
    public int IdCount { get; }

    /// <summary>The fourth header number (mdriver ignores it).</summary>
    public int Weight { get; }

    /// <summary>The requests in order.</summary>
    public IReadOnlyList<TraceOp> Ops => ops;

    /// <summary>The most payload bytes live at once (the numerator of the lab's utilization).</summary>
    public long PeakPayload { get; }

    internal ReadOnlySpan<TraceOp> OpSpan => ops;

    /// <summary>
    /// The best utilization any allocator can reach on this trace when every payload starts at a multiple of
    /// <paramref name="alignment"/>: peak payload ÷ the least heap that can hold the live blocks at every moment.
    /// Two aligned payloads that do not overlap start at least size-rounded-up-to-the-alignment apart, so at each moment
    /// the heap spans at least the sum of the live sizes rounded up (less alignment − 1 for the last block), and its
    /// high-water mark is at least the largest such sum. Headers, minimum block sizes and holes only add to that, so
    /// no allocator passes this bound. Not every trace lets one reach it, even knowing the trace in advance: blocks
    /// cannot move, so space freed between live blocks may not fit what comes later.
    /// </summary>
    public double UtilizationBound(int alignment = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(alignment, 1);
        if (PeakPayload == 0) return 1;
        long live = 0, most = 0;
        var sizes = new long[IdCount];
        foreach (var op in ops)
        {
            live -= RoundUp(sizes[op.Id], alignment);
            sizes[op.Id] = op.Kind == TraceOpKind.Free ? 0 : op.Size;
            live += RoundUp(sizes[op.Id], alignment);
            most = Math.Max(most, live);
        }
        return Math.Min(1, (double)PeakPayload / (most - (alignment - 1)));
    }

    static long RoundUp(long size, int alignment) => (size + alignment - 1) / alignment * alignment;

    /// <summary>
    /// A trace built in code: checks the ops as the parser would (ids in range, frees and reallocs of allocated ids,
    /// sizes ≥ 0). <paramref name="idCount"/> defaults to the largest id + 1, <paramref name="heapSizeHint"/> to the peak payload.
    /// </summary>
    /// <exception cref="TraceFormatException">An op breaks the rules; the "line" is the op's line in the saved file.</exception>
    public static Trace Create(string name, IEnumerable<TraceOp> ops, int? idCount = null, long? heapSizeHint = null, int weight = 1)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(ops);
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        var list = ops.ToArray();
        int ids = idCount ?? (list.Length == 0 ? 0 : list.Max(o => o.Id) + 1);
        ArgumentOutOfRangeException.ThrowIfNegative(ids, nameof(idCount));
        var state = new bool[ids];
        for (int i = 0; i < list.Length; i++)
        {
            int line = HeaderLines + 1 + i;
            list[i] = list[i] with { Line = line };
            if (list[i].Size < 0)
                throw new TraceFormatException(name, line, $"size {list[i].Size} is negative");
            if (Validate(list[i], ids, state) is { } problem)
                throw new TraceFormatException(name, line, problem);
        }
        var trace = new Trace(name, 0, ids, weight, list);
        return new Trace(name, heapSizeHint ?? trace.PeakPayload, ids, weight, list);
    }

    const int HeaderLines = 4;

    /// <summary>Reads a trace file; the trace's name is the file name.</summary>
    /// <exception cref="TraceFormatException">The file is not a valid trace.</exception>
    public static Trace Load(string path)
    {
        using var reader = new StreamReader(path);
        return Parse(reader, Path.GetFileName(path), path);
    }

    /// <summary>Parses trace text (the whole file).</summary>
    public static Trace Parse(string text, string name = "trace") => Parse(new StringReader(text), name);

    /// <summary>Parses a trace from a reader; errors name <paramref name="file"/> (default: <paramref name="name"/>).</summary>
    public static Trace Parse(TextReader reader, string name, string? file = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(name);
        file ??= name;
        int lineNumber = 0;
        string? line;

        // The header: the first four numbers, wherever the line breaks are (fscanf("%d") skips any white space).
        string[] headerNames = ["the suggested heap size", "the number of ids", "the number of ops", "the weight"];
        var header = new long[HeaderLines];
        int got = 0;
        while (got < HeaderLines)
        {
            line = reader.ReadLine();
            if (line is null)
                throw new TraceFormatException(file, Math.Max(lineNumber, 1), $"the file ends before the header's {headerNames[got]} (a trace starts with 4 numbers: heap size hint, ids, ops, weight)");
            lineNumber++;
            foreach (var field in Fields(line))
            {
                if (got == HeaderLines)
                    throw new TraceFormatException(file, lineNumber, $"'{field}' after the header's 4 numbers (ops start on the next line)");
                if (!long.TryParse(field, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out header[got]) || header[got] < 0)
                    throw new TraceFormatException(file, lineNumber, $"{headerNames[got]} must be a whole number ≥ 0, not '{field}'");
                got++;
            }
        }
        if (header[1] > int.MaxValue) throw new TraceFormatException(file, lineNumber, $"{header[1]} ids are more than this driver handles ({int.MaxValue})");
        if (header[2] > 100_000_000) throw new TraceFormatException(file, lineNumber, $"{header[2]} ops are more than this driver handles (100,000,000)");
        if (header[3] > int.MaxValue) throw new TraceFormatException(file, lineNumber, $"the weight {header[3]} is too large");
        int ids = (int)header[1], count = (int)header[2];

        var ops = new List<TraceOp>(Math.Min(count, 1 << 20));
        var state = new bool[ids];
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            var fields = Fields(line);
            if (fields.Count == 0) continue;
            if (ops.Count == count)
                throw new TraceFormatException(file, lineNumber, $"more ops than the header's {count}");
            var op = ParseOp(fields, file, lineNumber, ids);
            if (Validate(op, ids, state) is { } problem)
                throw new TraceFormatException(file, lineNumber, problem);
            ops.Add(op);
        }
        if (ops.Count < count)
            throw new TraceFormatException(file, Math.Max(lineNumber, 1), $"the file ends after {ops.Count} ops, but the header says {count} (truncated?)");
        return new Trace(name, header[0], ids, (int)header[3], ops.ToArray());
    }

    static List<string> Fields(string line) =>
        line.Split([' ', '\t', '\r', '\f', '\v'], StringSplitOptions.RemoveEmptyEntries).ToList();

    static TraceOp ParseOp(List<string> fields, string file, int line, int ids)
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
        if (id < 0 || id >= ids)
            throw new TraceFormatException(file, line, $"id {id} is out of range: the header says {ids} ids (0..{ids - 1})");
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

    /// <summary>Checks an op against which ids are allocated, and updates them; returns the problem or null.</summary>
    static string? Validate(TraceOp op, int ids, bool[] allocated)
    {
        if (op.Id < 0 || op.Id >= ids) return $"id {op.Id} is out of range: the trace has {ids} ids (0..{ids - 1})";
        switch (op.Kind)
        {
            case TraceOpKind.Alloc:
                if (allocated[op.Id]) return $"'a {op.Id} {op.Size}' allocates id {op.Id}, which is still allocated (free it first)";
                allocated[op.Id] = true;
                return null;
            case TraceOpKind.Realloc:
                return allocated[op.Id] ? null : $"'r {op.Id} {op.Size}' reallocates id {op.Id}, which is not allocated";
            case TraceOpKind.Free:
                if (!allocated[op.Id]) return $"'f {op.Id}' frees id {op.Id}, which is not allocated";
                allocated[op.Id] = false;
                return null;
            default:
                return $"unknown op kind {op.Kind}";
        }
    }

    /// <summary>Writes the trace in the .rep format (header, then one op per line, '\n' line ends).</summary>
    public void Write(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Write(HeaderText());
        foreach (var op in ops)
        {
            writer.Write(op.ToString());
            writer.Write('\n');
        }
    }

    /// <summary>Saves the trace as a .rep file.</summary>
    public void Save(string path)
    {
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false));
        Write(writer);
    }

    /// <summary>The trace as .rep text.</summary>
    public string ToText()
    {
        var s = new StringWriter();
        Write(s);
        return s.ToString();
    }

    string HeaderText() => string.Create(CultureInfo.InvariantCulture, $"{HeapSizeHint}\n{IdCount}\n{ops.Length}\n{Weight}\n");

    /// <summary>Counts of each op kind.</summary>
    public (int Allocs, int Reallocs, int Frees) Counts =>
        (ops.Count(o => o.Kind == TraceOpKind.Alloc), ops.Count(o => o.Kind == TraceOpKind.Realloc), ops.Count(o => o.Kind == TraceOpKind.Free));

    public override string ToString()
    {
        var (a, r, f) = Counts;
        return $"{Name}: {ops.Length:N0} ops ({a:N0} a, {r:N0} r, {f:N0} f), {IdCount:N0} ids, peak payload {PeakPayload:N0} bytes, heap hint {HeapSizeHint:N0}";
    }
}

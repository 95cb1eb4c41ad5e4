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

/// <summary>One request of a trace, as written: its kind, block id (-1, NULL, in a CMU <c>f -1</c>), size (0 for a free) and the file line it came from (0 if built in code).</summary>
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

/// <summary>The two public trace formats; they share the layout (four header numbers, then one op per line).</summary>
public enum TraceFormat
{
    /// <summary>CS:APP's: header heap size hint, ids, ops, weight; every free and realloc names an allocated id.</summary>
    Classic,
    /// <summary>
    /// CMU 15-213's (Autolab mdriver): header weight (0..3), ids, ops, ignore-ranges (0 or 1); <c>f -1</c> is
    /// free(NULL), an id never allocated holds NULL, <c>a</c> of a live id leaks its block, lines past the op count are ignored.
    /// </summary>
    Cmu,
}

/// <summary>
/// A malloc-lab trace (a <c>.rep</c> file): a header of four numbers, then one request per line.
/// <code>
/// 20000        classic: suggested heap size (the driver sizes its arena from it); CMU: weight 0..3
/// 2            number of block ids (ids are 0 .. ids-1)
/// 5            number of ops
/// 1            classic: weight; CMU: ignore-ranges 0 or 1
/// a 0 512      malloc(512), remembered as block 0
/// a 1 128
/// r 0 640      realloc(block 0, 640)
/// f 1          free(block 1)
/// f 0
/// </code>
/// Both formats: any white space between fields, blank lines, CR LF line ends, the four header numbers on one or
/// several lines; no comment syntax; one op per line; a size may be 0 (<c>a id 0</c> is <c>malloc(0)</c>,
/// <c>r id 0</c> frees the block and the id then holds NULL); ids need not all be used.
/// <para><b>Classic</b> (CS:APP mdriver) is strict: freeing or reallocating an id that is not allocated, allocating
/// an id that is still allocated, and more or fewer ops than the header says are errors.</para>
/// <para><b>CMU</b> follows the Autolab mdriver.c (the version with <c>ignore_ranges</c>): its reader keeps the ids'
/// pointers in a zeroed array and does not check the ops, so <c>r id n</c> on an id never allocated is
/// realloc(NULL, n), <c>f id</c> on one is free(NULL), <c>f -1</c> is free(NULL), <c>a id n</c> on a live id
/// overwrites its pointer (the old block stays allocated, counted in the payload, to the end), and reading stops
/// after the header's op count. What that mdriver leaves undefined is refused: <c>a -1</c> and <c>r -1</c> (it would
/// index blocks[-1]), freeing or reallocating an id after its free (a dangling pointer), a weight outside 0..3 or
/// ignore-ranges outside {0, 1} (it exits).</para>
/// <para>Without a format (<see cref="Parse(TextReader, string, string?, TraceFormat?)"/> with null), a file that is
/// valid classic is read as classic (if its header also reads as CMU, CMU's rules make the very same calls), and
/// one that classic refuses only for CMU constructs, under a header that reads as CMU, is read as CMU.</para>
/// Refused under either, with <see cref="TraceFormatException"/> naming the file and line: a missing or non-numeric
/// header number, an unknown op, a missing or non-numeric field, an id outside [0, ids), a negative size or one
/// above <see cref="int.MaxValue"/> (mdriver's sizes are C ints), fewer ops than the header says, more ops than a
/// file of its size can hold, more than <see cref="MaxOps"/> ops, a line longer than <see cref="MaxLineLength"/>.
/// </summary>
public sealed class Trace
{
    Trace(string name, TraceFormat format, string formatReason, long heapSizeHint, int idCount, int weight, int ignoreRanges,
        TraceOp[] ops, TraceSemantics semantics)
    {
        Name = name;
        Format = format;
        FormatReason = formatReason;
        HeapSizeHint = heapSizeHint;
        IdCount = idCount;
        Weight = weight;
        IgnoreRanges = ignoreRanges;
        this.ops = ops;
        replay = [.. semantics.Replay];
        SlotCount = semantics.SlotCount;
        long live = 0, peak = 0;
        var sizes = new long[SlotCount];
        foreach (var op in replay)
        {
            live += op.Kind == TraceOpKind.Free ? -sizes[op.Slot] : op.Size - sizes[op.Slot];
            sizes[op.Slot] = op.Kind == TraceOpKind.Free ? 0 : op.Size;
            peak = Math.Max(peak, live);
        }
        PeakPayload = peak;
    }

    readonly TraceOp[] ops;
    readonly ReplayOp[] replay;

    /// <summary>The most ops a trace may have (its ops take about 30 bytes each in memory).</summary>
    public const int MaxOps = 5_000_000;

    /// <summary>The longest line the parser reads (mdriver's MAXLINE is 1024).</summary>
    public const int MaxLineLength = 4096;

    /// <summary>The trace's name: its file name without the directory (e.g. <c>binary-bal.rep</c>).</summary>
    public string Name { get; }

    /// <summary>The semantics the ops are replayed with.</summary>
    public TraceFormat Format { get; }

    /// <summary>Why <see cref="Format"/> was chosen, for the driver's report (e.g. the first CMU-only line); "" for a plain classic trace.</summary>
    public string FormatReason { get; }

    /// <summary>Classic: the first header number, the suggested heap size in bytes (some public traces say 1). CMU: 0.</summary>
    public long HeapSizeHint { get; }

    /// <summary>The header's number of block ids: every op's id is in [0, IdCount) (or -1, NULL, in a CMU <c>f -1</c>).</summary>
    public int IdCount { get; }

    /// <summary>Classic: the fourth header number; CMU: the first, 0..3 (which of util and throughput count). The driver does not use it.</summary>
    public int Weight { get; }

    /// <summary>CMU: the fourth header number (mdriver skips its overlap check when 1; this driver always checks). Classic: 0.</summary>
    public int IgnoreRanges { get; }

    /// <summary>The requests in order, as written (ops past a CMU header's count are not here).</summary>
    public IReadOnlyList<TraceOp> Ops => ops;

    /// <summary>The most payload bytes live at once (the numerator of the lab's utilization; a leaked CMU block counts to the end).</summary>
    public long PeakPayload { get; }

    /// <summary>
    /// The ops as the driver replays them, one per <see cref="Ops"/> entry: each names a slot of the pointer array,
    /// which starts zeroed. Slot 0 is NULL and is never written (<c>f -1</c> and frees of ids never allocated free it);
    /// an id gets a slot when first allocated or reallocated, and a fresh one when a CMU <c>a</c> leaks its block.
    /// </summary>
    internal ReadOnlySpan<ReplayOp> ReplaySpan => replay;

    /// <summary>The size of the replay's pointer array: 1 + the ids used + the leaked blocks (at most ops + 1).</summary>
    internal int SlotCount { get; }

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
        var sizes = new long[SlotCount];
        foreach (var op in replay)
        {
            live -= RoundUp(sizes[op.Slot], alignment);
            sizes[op.Slot] = op.Kind == TraceOpKind.Free ? 0 : op.Size;
            live += RoundUp(sizes[op.Slot], alignment);
            most = Math.Max(most, live);
        }
        return Math.Min(1, (double)PeakPayload / (most - (alignment - 1)));
    }

    static long RoundUp(long size, int alignment) => (size + alignment - 1) / alignment * alignment;

    /// <summary>
    /// A trace built in code: checks the ops as the parser would with <paramref name="format"/>'s rules (ids in range,
    /// sizes ≥ 0; classic: frees and reallocs of allocated ids). <paramref name="idCount"/> defaults to the largest id + 1,
    /// <paramref name="heapSizeHint"/> (classic only) to the peak payload; a CMU <paramref name="weight"/> is 0..3.
    /// </summary>
    /// <exception cref="TraceFormatException">An op breaks the rules; the "line" is the op's line in the saved file.</exception>
    public static Trace Create(string name, IEnumerable<TraceOp> ops, int? idCount = null, long? heapSizeHint = null, int weight = 1,
        TraceFormat format = TraceFormat.Classic)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(ops);
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        if (format == TraceFormat.Cmu)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(weight, 3);
            if (heapSizeHint is not null) throw new ArgumentException("a CMU trace has no heap size hint", nameof(heapSizeHint));
        }
        var list = ops.ToArray();
        int ids = idCount ?? (list.Length == 0 ? 0 : Math.Max(0, list.Max(o => o.Id) + 1));
        ArgumentOutOfRangeException.ThrowIfNegative(ids, nameof(idCount));
        var semantics = new TraceSemantics(ids);
        string? reason = null;
        for (int i = 0; i < list.Length; i++)
        {
            int line = HeaderLines + 1 + i;
            list[i] = list[i] with { Line = line };
            if (list[i].Size < 0)
                throw new TraceFormatException(name, line, $"size {list[i].Size} is negative");
            var (classic, meaning, cmu) = semantics.Step(list[i]);
            if ((format == TraceFormat.Classic ? classic : cmu) is { } problem)
                throw new TraceFormatException(name, line, problem);
            reason ??= meaning is null ? null : $"line {line}: {meaning}";
        }
        if (format == TraceFormat.Classic)
        {
            var trace = new Trace(name, format, "", 0, ids, weight, 0, list, semantics);
            return new Trace(name, format, "", heapSizeHint ?? trace.PeakPayload, ids, weight, 0, list, semantics);
        }
        return new Trace(name, format, reason ?? "", 0, ids, weight, 0, list, semantics);
    }

    internal const int HeaderLines = 4;

    /// <summary>Reads a trace file; the trace's name is the file name. <paramref name="format"/> null: tell from the file.</summary>
    /// <exception cref="TraceFormatException">The file is not a valid trace.</exception>
    public static Trace Load(string path, TraceFormat? format = null) => Load(path, format, MaxOps);

    internal static Trace Load(string path, TraceFormat? format, int maxOps)
    {
        using var reader = new StreamReader(path);
        return TraceParser.Parse(reader, Path.GetFileName(path), path, format, reader.BaseStream.Length, maxOps);
    }

    /// <summary>Parses trace text (the whole file).</summary>
    public static Trace Parse(string text, string name = "trace", TraceFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TraceParser.Parse(new StringReader(text), name, name, format, text.Length, MaxOps);
    }

    /// <summary>Parses a trace from a reader; errors name <paramref name="file"/> (default: <paramref name="name"/>).</summary>
    public static Trace Parse(TextReader reader, string name, string? file = null, TraceFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(name);
        long? length = reader is StreamReader { BaseStream.CanSeek: true } s ? s.BaseStream.Length : null;
        return TraceParser.Parse(reader, name, file ?? name, format, length, MaxOps);
    }

    internal static Trace FromParser(string name, TraceFormat format, string reason, long[] header, TraceOp[] ops, TraceSemantics semantics) =>
        format == TraceFormat.Classic
            ? new Trace(name, format, reason, header[0], (int)header[1], (int)header[3], 0, ops, semantics)
            : new Trace(name, format, reason, 0, (int)header[1], (int)header[0], (int)header[3], ops, semantics);

    /// <summary>Writes the trace in the .rep format of <see cref="Format"/> (header, then one op per line, '\n' line ends).</summary>
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

    string HeaderText() => Format == TraceFormat.Classic
        ? string.Create(CultureInfo.InvariantCulture, $"{HeapSizeHint}\n{IdCount}\n{ops.Length}\n{Weight}\n")
        : string.Create(CultureInfo.InvariantCulture, $"{Weight}\n{IdCount}\n{ops.Length}\n{IgnoreRanges}\n");

    /// <summary>Counts of each op kind.</summary>
    public (int Allocs, int Reallocs, int Frees) Counts =>
        (ops.Count(o => o.Kind == TraceOpKind.Alloc), ops.Count(o => o.Kind == TraceOpKind.Realloc), ops.Count(o => o.Kind == TraceOpKind.Free));

    /// <summary>The format and why, as one phrase: <c>classic</c>, <c>cmu (line 5: 'f -1' is free(NULL))</c>.</summary>
    public string FormatDescription => Format.ToString().ToLowerInvariant() + (FormatReason.Length == 0 ? "" : $" ({FormatReason})");

    public override string ToString()
    {
        var (a, r, f) = Counts;
        return $"{Name}: {ops.Length:N0} ops ({a:N0} a, {r:N0} r, {f:N0} f), {IdCount:N0} ids, peak payload {PeakPayload:N0} bytes, " +
               (Format == TraceFormat.Classic ? $"heap hint {HeapSizeHint:N0}" : $"{FormatDescription}, weight {Weight}");
    }
}

/// <summary>One op as the driver replays it: the kind, the slot of the pointer array it uses, the size.</summary>
readonly record struct ReplayOp(TraceOpKind Kind, int Slot, int Size);

using System.Globalization;
using System.Text;

namespace Lessons.L05_BuildAnAllocator;

/// <summary>How the simulated free list picks a free range.</summary>
public enum SimPolicy
{
    /// <summary>The first range (lowest address) that is large enough.</summary>
    FirstFit,
    /// <summary>The smallest range that is large enough (the first of equals).</summary>
    BestFit,
    /// <summary>The largest range (the first of equals), if it is large enough.</summary>
    WorstFit,
}

/// <summary>Everything that determines a <see cref="FreeListSimulator"/> run; printed at the top of each run so it can be repeated.</summary>
public sealed record FreeListOptions
{
    /// <summary>Seed of the random ops (ignored when <see cref="Ops"/> is given).</summary>
    public int Seed { get; init; }

    /// <summary>Bytes the heap holds; it never grows.</summary>
    public long HeapSize { get; init; } = 100;

    /// <summary>The address of the heap's first byte.</summary>
    public long BaseAddress { get; init; } = 1000;

    /// <summary>How a free range is chosen.</summary>
    public SimPolicy Policy { get; init; } = SimPolicy.BestFit;

    /// <summary>Whether a freed range merges with free neighbours.</summary>
    public bool Coalesce { get; init; }

    /// <summary>Bytes of header in front of each payload (the returned address is after it).</summary>
    public int HeaderSize { get; init; }

    /// <summary>Every block (header + payload) is rounded up to a multiple of this (1: no rounding).</summary>
    public int Alignment { get; init; } = 1;

    /// <summary>How many random ops to make.</summary>
    public int Operations { get; init; } = 10;

    /// <summary>Random requests ask for 1 to this many bytes.</summary>
    public int MaxRequest { get; init; } = 10;

    /// <summary>Percent of random ops that allocate (the rest free a random live block; with nothing live, they allocate).</summary>
    public int AllocPercent { get; init; } = 50;

    /// <summary>Fixed ops instead of random ones: comma-separated <c>+n</c> (allocate n bytes) and <c>-k</c> (free the
    /// pointer returned by the k-th allocation, counting from 0), e.g. <c>"+10,+20,-0,+5"</c>.</summary>
    public string? Ops { get; init; }

    public override string ToString()
    {
        string ops = Ops is null
            ? string.Create(CultureInfo.InvariantCulture, $"ops {Operations} random (requests 1..{MaxRequest} bytes, {AllocPercent}% allocations)")
            : $"ops \"{Ops}\"";
        return string.Create(CultureInfo.InvariantCulture,
            $"seed {Seed}, heap size {HeapSize}, base address {BaseAddress}, policy {Policy}, coalesce {(Coalesce ? "yes" : "no")}, header size {HeaderSize}, alignment {Alignment}, {ops}");
    }
}

/// <summary>A free range of the simulated heap: its first address and its size.</summary>
public readonly record struct FreeRange(long Address, long Size)
{
    public override string ToString() => $"[addr {Address} size {Size}]";
}

/// <summary>One op of a run: allocation number k asking for n bytes, or freeing the pointer of allocation k.</summary>
public readonly record struct SimOp(bool Alloc, int Number, int Size)
{
    public override string ToString() => Alloc ? $"+{Size}" : $"-{Number}";
}

/// <summary>What one op did: for an allocation the address returned (-1 when nothing fits), for a free 0 (null when the
/// pointer was not live, so nothing happened); how many free ranges were looked at, and the free list after the op.</summary>
public sealed record SimStep(SimOp Op, long? Result, int Searched, IReadOnlyList<FreeRange> FreeList)
{
    /// <summary>The op as a line: <c>p3 = alloc(7)</c> or <c>free(p3)</c>, with the answer or a question mark.</summary>
    public string Describe(bool answers) => Op.Alloc
        ? $"p{Op.Number} = alloc({Op.Size})" + (answers ? $" returned {Result}{(Result < 0 ? " (no range fits)" : "")}, {Searched} range(s) searched" : " returned ?")
        : $"free(p{Op.Number})" + (answers && Result is null ? " (p" + Op.Number + " is not live: nothing happens)" : "");

    /// <summary>The free list as a line, or the question.</summary>
    public string List(bool answers) => answers
        ? $"  free list ({FreeList.Count}): " + string.Join(" ", FreeList)
        : "  free list? ";
}

/// <summary>A whole run: its options, its ops and every step.</summary>
public sealed record FreeListRun(FreeListOptions Options, IReadOnlyList<SimStep> Steps)
{
    /// <summary>The run as text: the parameters, then each op; with <paramref name="answers"/> the results and free
    /// lists are filled in, without them they are questions for the reader.</summary>
    public string Render(bool answers)
    {
        var s = new StringBuilder();
        s.AppendLine($"parameters: {Options}");
        s.AppendLine($"ops: {string.Join(",", Steps.Select(t => t.Op))}");
        s.AppendLine($"start: free list (1): {new FreeRange(Options.BaseAddress, Options.HeapSize)}");
        foreach (var step in Steps)
        {
            s.AppendLine(step.Describe(answers));
            s.AppendLine(step.List(answers));
        }
        return s.ToString().TrimEnd();
    }

    /// <summary>The free list after the last op.</summary>
    public IReadOnlyList<FreeRange> FinalFreeList => Steps.Count == 0 ? [new FreeRange(Options.BaseAddress, Options.HeapSize)] : Steps[^1].FreeList;

    public override string ToString() => Render(answers: false);
}

/// <summary>
/// A free-list allocator on paper, in the spirit of OSTEP's malloc.py: no real memory, only a list of free ranges
/// (kept sorted by address) over a heap of <see cref="FreeListOptions.HeapSize"/> bytes at
/// <see cref="FreeListOptions.BaseAddress"/>. An allocation rounds header + request up to the alignment, takes the
/// front of the range the policy picks and returns the address after the header; a free puts the block's range back
/// (merging with free neighbours when <see cref="FreeListOptions.Coalesce"/>). Print <see cref="FreeListRun.Render"/>
/// without answers, predict each result and free list, then print it with answers.
/// </summary>
public static class FreeListSimulator
{
    /// <summary>Runs the ops of <paramref name="options"/> (given, or random from its seed).</summary>
    public static FreeListRun Run(FreeListOptions? options = null)
    {
        options ??= new FreeListOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.HeapSize);
        ArgumentOutOfRangeException.ThrowIfNegative(options.HeaderSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.Alignment);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Operations);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxRequest);
        if (options.AllocPercent is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(options), options.AllocPercent, "AllocPercent must be in [0, 100]");
        if (!Enum.IsDefined(options.Policy)) throw new ArgumentOutOfRangeException(nameof(options), options.Policy, "not a policy");

        var free = new List<FreeRange> { new(options.BaseAddress, options.HeapSize) };
        var blocks = new Dictionary<int, FreeRange>(); // allocation number → its whole block (header included)
        var steps = new List<SimStep>();
        var given = options.Ops is null ? null : Parse(options.Ops);
        var rng = new Random(options.Seed);
        int allocations = 0;
        for (int i = 0; given is null ? i < options.Operations : i < given.Count; i++)
        {
            SimOp op;
            if (given is not null) op = given[i] with { Number = given[i].Alloc ? allocations : given[i].Number };
            else if (blocks.Count == 0 || rng.Next(100) < options.AllocPercent) op = new SimOp(true, allocations, rng.Next(1, options.MaxRequest + 1));
            else
            {
                var live = blocks.Keys.Order().ToList();
                op = new SimOp(false, live[rng.Next(live.Count)], 0);
            }

            if (op.Alloc)
            {
                allocations++;
                long need = (op.Size + options.HeaderSize + options.Alignment - 1) / options.Alignment * options.Alignment;
                int pick = Pick(free, need, options.Policy, out int searched);
                long result = -1;
                if (pick >= 0)
                {
                    var r = free[pick];
                    blocks[op.Number] = new FreeRange(r.Address, need);
                    if (r.Size == need) free.RemoveAt(pick);
                    else free[pick] = new FreeRange(r.Address + need, r.Size - need);
                    result = r.Address + options.HeaderSize;
                }
                steps.Add(new SimStep(op, result, searched, free.ToList()));
            }
            else
            {
                long? result = null;
                if (blocks.Remove(op.Number, out var block))
                {
                    Insert(free, block, options.Coalesce);
                    result = 0;
                }
                steps.Add(new SimStep(op, result, 0, free.ToList()));
            }
        }
        return new FreeListRun(options, steps);
    }

    /// <summary>Parses <c>"+10,+20,-0"</c>: +n allocates n bytes, -k frees allocation k's pointer.</summary>
    /// <exception cref="FormatException">An item is neither +n (n ≥ 1) nor -k (k ≥ 0).</exception>
    public static IReadOnlyList<SimOp> Parse(string ops)
    {
        ArgumentNullException.ThrowIfNull(ops);
        var list = new List<SimOp>();
        foreach (var raw in ops.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            bool alloc = raw[0] == '+';
            if ((!alloc && raw[0] != '-') || !int.TryParse(raw.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || (alloc && n < 1))
                throw new FormatException($"'{raw}' in \"{ops}\" is neither +n (allocate n ≥ 1 bytes) nor -k (free the k-th allocation's pointer)");
            list.Add(alloc ? new SimOp(true, 0, n) : new SimOp(false, n, 0));
        }
        return list;
    }

    static int Pick(List<FreeRange> free, long need, SimPolicy policy, out int searched)
    {
        int pick = -1;
        searched = 0;
        for (int i = 0; i < free.Count; i++)
        {
            searched++;
            long size = free[i].Size;
            if (policy == SimPolicy.FirstFit)
            {
                if (size >= need) return i;
            }
            else if (policy == SimPolicy.BestFit)
            {
                if (size >= need && (pick < 0 || size < free[pick].Size)) pick = i;
            }
            else if (pick < 0 || size > free[pick].Size) pick = i;
        }
        return pick >= 0 && free[pick].Size >= need ? pick : -1;
    }

    static void Insert(List<FreeRange> free, FreeRange block, bool coalesce)
    {
        int at = 0;
        while (at < free.Count && free[at].Address < block.Address) at++;
        free.Insert(at, block);
        if (!coalesce) return;
        if (at + 1 < free.Count && free[at].Address + free[at].Size == free[at + 1].Address)
        {
            free[at] = new FreeRange(free[at].Address, free[at].Size + free[at + 1].Size);
            free.RemoveAt(at + 1);
        }
        if (at > 0 && free[at - 1].Address + free[at - 1].Size == free[at].Address)
        {
            free[at - 1] = new FreeRange(free[at - 1].Address, free[at - 1].Size + free[at].Size);
            free.RemoveAt(at);
        }
    }
}

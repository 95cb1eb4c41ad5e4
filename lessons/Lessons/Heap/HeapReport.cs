using System.Text;

namespace Lessons.Heap;

/// <summary>The blocks still allocated that one call site allocated.</summary>
public sealed record LeakSite(CallSite Site, long Bytes, int Blocks)
{
    public override string ToString() => $"{Bytes:N0} bytes in {Blocks:N0} blocks allocated at {Site}";
}

/// <summary>A Valgrind-style summary: what is still allocated, the totals, and the leaks grouped by call site.</summary>
public sealed record HeapReport(long InUseBytes, int InUseBlocks, long Allocs, long Frees, long BytesAllocated, IReadOnlyList<LeakSite> Leaks)
{
    /// <summary>Bytes in blocks nobody freed (this heap cannot see pointers, so every block still allocated counts).</summary>
    public long DefinitelyLostBytes => InUseBytes;

    /// <summary>Blocks nobody freed.</summary>
    public int DefinitelyLostBlocks => InUseBlocks;

    public override string ToString()
    {
        var s = new StringBuilder();
        s.AppendLine("HEAP SUMMARY:");
        s.AppendLine($"    in use at exit: {InUseBytes:N0} bytes in {InUseBlocks:N0} blocks");
        s.AppendLine($"  total heap usage: {Allocs:N0} allocs, {Frees:N0} frees, {BytesAllocated:N0} bytes allocated");
        s.AppendLine();
        if (InUseBlocks == 0)
        {
            s.Append("All heap blocks were freed -- no leaks are possible");
            return s.ToString();
        }
        foreach (var site in Leaks)
            s.AppendLine($"{site.Bytes:N0} bytes in {site.Blocks:N0} blocks are definitely lost, allocated at {site.Site}");
        s.AppendLine();
        s.AppendLine("LEAK SUMMARY:");
        s.Append($"   definitely lost: {DefinitelyLostBytes:N0} bytes in {DefinitelyLostBlocks:N0} blocks");
        return s.ToString();
    }
}

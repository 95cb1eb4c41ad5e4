using System.Runtime.CompilerServices;
using Lessons.Heap;
using Lessons.Posix;

namespace Lessons.L02_MallocFamily;

/// <summary>
/// dangling's reads on a checking heap with page guards, each read made by a forked child through the raw pointer, as
/// C would: the live string, the first byte past its 16-byte-rounded end, and the string after free.
/// <c>FreedPermissions</c> is the maps line's permissions of the freed block's page.
/// </summary>
public sealed record PageGuardRun(
    long Size, string GuardPermissions, ChildOutcome LiveRead, ChildOutcome ReadPastEnd, string FreedPermissions, ChildOutcome ReadAfterFree)
{
    static string Show(ChildOutcome o) => o.KilledBy is { } sig ? $"killed by {sig}" : $"exit {o.ExitCode} (the byte read)";

    public override string ToString() =>
        $"a {Size}-byte string at the end of its own page; the page after it is {GuardPermissions}\n" +
        $"  child reads s[0]:                      {Show(LiveRead)}\n" +
        $"  child reads s[{Size + 15 & ~15L}] (first byte past the end): {Show(ReadPastEnd)}\n" +
        $"  free(s): its page is now {FreedPermissions}\n" +
        $"  child reads s[0] after free:           {Show(ReadAfterFree)}";
}

public static class PageGuardDemo
{
    /// <summary>The text dangling concatenates.</summary>
    public const string Text = "abracadabra";

    /// <summary>Runs the three reads (see <see cref="PageGuardRun"/>); the heap is gone when it returns.</summary>
    public static PageGuardRun Dangling()
    {
        using var heap = new CheckingHeap(pageGuards: true);
        nint s = heap.Strdup(Text);
        long size = heap.SizeOf(s);
        nint end = s + (nint)((size + 15) & ~15L);
        string guard = ProcMaps.Find(end)!.Permissions;
        var live = Fork.Run(ReadByteAt, s);
        var past = Fork.Run(ReadByteAt, end);
        heap.Free(s);
        string freed = ProcMaps.Find(s)!.Permissions;
        var after = Fork.Run(ReadByteAt, s);
        return new PageGuardRun(size, guard, live, past, freed, after);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int ReadByteAt(nint p) => *(byte*)p;
}

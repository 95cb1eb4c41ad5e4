namespace Lessons.Heap;

/// <summary>One block of a <see cref="CheckingHeap"/>: its address and requested size, where it was allocated and, once freed, where.</summary>
public sealed record HeapBlock(nint Address, long Size, CallSite AllocatedAt, CallSite? FreedAt)
{
    public override string ToString() =>
        $"0x{Address:x} {Size} bytes allocated at {AllocatedAt}" + (FreedAt is null ? "" : $", freed at {FreedAt}");
}

using Lessons.Heap;

namespace Lessons.Tests.Heap;

public class SideStateTests
{
    [Fact]
    public void No_reference_allocator_keeps_static_state()
    {
        Assert.NotEmpty(Allocators.All);
        foreach (var a in Allocators.All) Assert.Empty(SideState.StaticStateProblems(a.Type));
    }

    [Fact]
    public void A_static_field_that_can_hold_state_is_named()
    {
        var problems = SideState.StaticStateProblems(typeof(WithStatics));
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("WithStatics.Table (Int64[])", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("WithStatics.Count (Int32)", StringComparison.Ordinal));
    }

    [Fact]
    public void The_live_bitmap_costs_a_128th_of_the_heap_and_the_heap_itself_is_not_counted()
    {
        using var heap = new SimulatedBreak(64 << 20);
        var a = Allocators.Create("segregated", heap);
        long empty = SideState.Bytes(a, heap);
        Assert.InRange(empty, 64, 512); // heads of the non-empty lists only, a small bitmap
        var blocks = Enumerable.Range(0, 4096).Select(_ => a.Malloc(1000)).ToList();
        Assert.All(blocks, p => Assert.NotEqual(0, p));
        long grown = SideState.Bytes(a, heap) - empty;
        Assert.InRange(grown, heap.Size / 128 - 1024, heap.Size / 128 * 9 / 8 + 1024); // grown in steps of 1/8
    }

    [Fact]
    public void Segregated_slabs_keeps_a_byte_per_KiB_of_heap_instead_of_a_bitmap()
    {
        using var heap = new SimulatedBreak(64 << 20);
        var a = Allocators.Create("segregated-slabs", heap);
        long empty = SideState.Bytes(a, heap);
        Assert.InRange(empty, 32, 256);
        var blocks = Enumerable.Range(0, 4096).Select(i => a.Malloc(i % 2 == 0 ? 1000 : 24)).ToList();
        Assert.All(blocks, p => Assert.NotEqual(0, p));
        long grown = SideState.Bytes(a, heap) - empty;
        Assert.InRange(grown, heap.Size / 1024 - 256, heap.Size / 1024 * 9 / 8 + 512); // the first-block map, grown in steps of 1/8
    }

    [Fact]
    public void Headerless_keeps_one_bit_per_16_bytes_of_heap()
    {
        using var heap = new SimulatedBreak(64 << 20);
        var a = Allocators.Create("headerless", heap);
        long empty = SideState.Bytes(a, heap);
        Assert.InRange(empty, 64, 256); // the bitmap of an empty heap, the summary, the list heads, own fields past the allowance
        var blocks = Enumerable.Range(0, 4096).Select(i => a.Malloc(i % 2 == 0 ? 1000 : 24)).ToList();
        Assert.All(blocks, p => Assert.NotEqual(0, p));
        long grown = SideState.Bytes(a, heap) - empty;
        Assert.InRange(grown, heap.Size / 128 - 256, heap.Size / 128 * 5 / 4 + 512); // grown in steps of 1/4
    }

    [Fact]
    public void A_pointer_field_is_a_scalar()
    {
        // reflection boxes a pointer's value in a new object on every read: following it would never end
        Assert.Equal(0, SideState.Bytes(new WithPointer(), null));
    }

    sealed unsafe class WithPointer
    {
        public long* Words = (long*)16;
        public delegate*<void> Function = null;
    }

    [Fact]
    public void Collections_and_objects_are_counted_and_own_fields_past_the_allowance()
    {
        using var heap = new SimulatedBreak(1 << 20);
        var s = new WithCollections(heap);
        long before = SideState.Bytes(s, heap);
        for (int i = 0; i < 1000; i++)
        {
            s.Live.Add(i);
            s.Nodes.Add(new Node(i));
        }
        long after = SideState.Bytes(s, heap);
        // a HashSet<nint> entry takes 16 bytes and a bucket 4; a Node object 24 and its reference in the List 8
        Assert.InRange(after - before, 1000 * (16 + 4 + 24 + 8), 1000 * 2 * (16 + 4 + 24 + 8));
        Assert.Equal(0, SideState.Bytes(new OnlyScalars(), null));
        var self = new PointsAtItself();
        self.Me = self;
        Assert.Equal(0, SideState.Bytes(self, null)); // a reference back to the allocator is not another object
        Assert.Equal(512 - SideState.FreeFieldBytes, SideState.Bytes(new BigFields(), null));
    }

    sealed class WithStatics
    {
        public const int Fine = 1;
        public static readonly int AlsoFine = 2;
        public static readonly long[] Table = new long[4];
        public static int Count = Environment.ProcessorCount;
    }

    sealed record Node(long Value);

    sealed class WithCollections(SimulatedBreak heap)
    {
        public SimulatedBreak Heap { get; } = heap;
        public HashSet<nint> Live { get; } = [];
        public List<Node> Nodes { get; } = [];
    }

    sealed class OnlyScalars
    {
        public long A = 1, B = 2, C = 3;
        public nint D = 4;
    }

    sealed class PointsAtItself
    {
        public PointsAtItself? Me { get; set; }
    }

    sealed class BigFields
    {
        public Inline64 Words = default;
    }

    [System.Runtime.CompilerServices.InlineArray(64)]
    struct Inline64
    {
        long first;
    }
}

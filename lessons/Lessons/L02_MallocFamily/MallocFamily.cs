using System.Runtime.CompilerServices;
using System.Text;
using Bogus;
using Lessons.Heap;
using Lessons.Plotting;
using Lessons.Posix;
using Plotly.NET;
using Chart = Plotly.NET.CSharp.Chart;

namespace Lessons.L02_MallocFamily;

/// <summary>Lesson 02: malloc, calloc, realloc and free through the real libc, and a checking heap that catches their misuse.</summary>
public static class MallocFamily
{
    /// <summary>xmalloc: malloc that never returns 0. C's version prints a message and exits; this one throws PosixException (ENOMEM).</summary>
    public static nint Xmalloc(long size) => LibcHeap.Malloc(size);

    /// <summary>Fills a block with a pattern, frees it, mallocs the same size again and looks at what is in it.</summary>
    public static GarbageDemo ReusedGarbage(long size = 64, byte pattern = 0xAB)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 24);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 1 << 20);
        nint first = LibcHeap.Malloc(size);
        Bytes(first, size).Fill(pattern);
        LibcHeap.Free(first);
        nint second = LibcHeap.Malloc(size);
        try
        {
            var bytes = Bytes(second, size);
            return new GarbageDemo(size, pattern, first, second, bytes.Count(pattern), Convert.ToHexString(bytes[..24]).ToLowerInvariant());
        }
        finally { LibcHeap.Free(second); }
    }

    /// <summary>
    /// Frees a block full of 0xFF, then callocs the same size once: calloc must hand back zeros. For a small size
    /// (up to glibc's tcache limit, 1032 bytes) the freed block sits in the thread's tcache, which glibc's calloc does not
    /// look in, so calloc returns another block. The .NET runtime on this thread mallocs and frees too now and then (the
    /// JIT, the GC): if it moved the cached block into a bin between the free and the calloc, calloc can get it. A try that
    /// got the freed block is repeated, up to 8 tries; the result says how many it took.
    /// </summary>
    public static CallocDemo CallocZeroes(long size = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 1 << 20);
        var last = CallocAfterFree(size); // a first round compiles the code on the way (the JIT mallocs too)
        for (int attempt = 1; attempt <= 8; attempt++)
        {
            last = CallocAfterFree(size) with { Attempts = attempt };
            if (!last.SameAddress) break;
        }
        return last;
    }

    static CallocDemo CallocAfterFree(long size)
    {
        nint dirty = LibcHeap.Malloc(size);
        Bytes(dirty, size).Fill(0xFF);
        LibcHeap.Free(dirty);
        nint zeroed = LibcHeap.Calloc(1, size);
        try { return new CallocDemo(size, dirty, zeroed, size - Bytes(zeroed, size).Count((byte)0)); }
        finally { LibcHeap.Free(zeroed); }
    }

    /// <summary>
    /// calloc really reusing a dirty block: a block of <paramref name="size"/> bytes (above the tcache limit, so when freed
    /// it goes to a bin that calloc searches), followed by a fence that keeps it from merging into the top of the heap, is
    /// filled with 0xFF and freed; calloc of the same size then gets that very block and must clear it. Retries (up to 16
    /// times) when another allocation took the block first; the result says how many tries it took.
    /// </summary>
    public static CallocDemo CallocReusesDirtyBlock(long size = 2000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 64 * 1024);
        var warmUp = TryCallocReuse(size, out nint warmFence); // the JIT mallocs while it compiles the code on the way
        LibcHeap.Free(warmUp.Zeroed);
        LibcHeap.Free(warmFence);
        var held = new List<nint>();
        try
        {
            CallocDemo? last = null;
            for (int attempt = 1; attempt <= 16; attempt++)
            {
                last = TryCallocReuse(size, out nint fence) with { Attempts = attempt };
                held.Add(fence);
                if (last.SameAddress) break;
                held.Add(last.Zeroed); // keep a block that was not the reused one, so the next try gets fresh neighbours
            }
            if (last!.SameAddress) LibcHeap.Free(last.Zeroed);
            return last;
        }
        finally
        {
            foreach (nint p in held) LibcHeap.Free(p);
        }
    }

    static CallocDemo TryCallocReuse(long size, out nint fence)
    {
        nint dirty = LibcHeap.Malloc(size);
        fence = LibcHeap.Malloc(32);
        Bytes(dirty, size).Fill(0xFF);
        LibcHeap.Free(dirty);
        nint zeroed = LibcHeap.Calloc(1, size);
        return new CallocDemo(size, dirty, zeroed, size - Bytes(zeroed, size).Count((byte)0));
    }

    /// <summary>
    /// Grows a block of <paramref name="size"/> bytes to twice its size, twice: once when the chunk right after it (checked to be adjacent) has just
    /// been freed (glibc can take it over: no move), once when the block after it is in use (it must move). Sizes above
    /// glibc's tcache limit (1032 bytes) make the freed neighbour a real free chunk instead of a cached one.
    /// Another thread using the same arena could still take the freed neighbour first: the result says what happened.
    /// </summary>
    public static IReadOnlyList<ReallocDemo> ReallocGrowth(long size = 4000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, 64 * 1024);
        // A first round compiles the code on the way: the JIT mallocs too, and would take the freed neighbour.
        Grow("warm-up", size, freeNeighbour: true);
        Grow("warm-up", size, freeNeighbour: false);
        return [Grow("free space after it", size, freeNeighbour: true), Grow("boxed in", size, freeNeighbour: false)];
    }

    static ReallocDemo Grow(string name, long size, bool freeNeighbour)
    {
        // The neighbour must be the very next chunk: glibc puts a chunk's successor at p + usable size + 8 (its size
        // header). When a free hole elsewhere breaks that, keep the pair and try again (the holes fill up), then release them.
        var held = new List<nint>();
        nint block = 0, neighbour = 0;
        try
        {
            for (int attempt = 0; attempt < 64; attempt++)
            {
                block = LibcHeap.Malloc(size);
                neighbour = LibcHeap.Malloc(size * 2);
                if (neighbour == block + (nint)LibcHeap.UsableSize(block) + 8) break;
                held.Add(block);
                held.Add(neighbour);
                block = neighbour = 0;
            }
            if (block == 0) throw new InvalidOperationException("could not get two adjacent blocks from malloc in 64 attempts");
            nint fence = LibcHeap.Malloc(size); // keeps the neighbour from merging with the top of the heap
            held.Add(fence);
            var data = Bytes(block, size);
            for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 7);
            if (freeNeighbour) LibcHeap.Free(neighbour);
            nint grown = LibcHeap.Realloc(block, size * 2);
            bool kept = true;
            var after = Bytes(grown, size);
            for (int i = 0; i < after.Length; i++) kept &= after[i] == (byte)(i * 7);
            LibcHeap.Free(grown);
            if (!freeNeighbour) LibcHeap.Free(neighbour);
            return new ReallocDemo(name, size, size * 2, block, grown, neighbour, freeNeighbour, kept);
        }
        finally
        {
            foreach (nint p in held) LibcHeap.Free(p);
        }
    }

    /// <summary>
    /// malloc_usable_size of malloc(n) for every n in [from, to]: the chunk-size staircase. Each size is asked for three
    /// times at once and the smallest counts: malloc may hand out a free chunk a little larger than the request when what
    /// would be left is too small to be a chunk (seen once in a test run, where other threads had used the heap), which
    /// would put a bump in the staircase that is not its rounding rule.
    /// </summary>
    public static Staircase UsableSizes(long from = 1, long to = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(from, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(to, from);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(to, 1 << 20);
        var points = new List<UsablePoint>();
        for (long n = from; n <= to; n++)
        {
            nint a = LibcHeap.Malloc(n), b = LibcHeap.Malloc(n), c = LibcHeap.Malloc(n);
            points.Add(new UsablePoint(n, Math.Min(LibcHeap.UsableSize(a), Math.Min(LibcHeap.UsableSize(b), LibcHeap.UsableSize(c)))));
            LibcHeap.Free(c);
            LibcHeap.Free(b);
            LibcHeap.Free(a);
        }
        return Describe(points);
    }

    /// <summary>Reads the staircase: the smallest usable size, the most common jump between distinct usable sizes, the largest slack.</summary>
    public static Staircase Describe(IReadOnlyList<UsablePoint> points)
    {
        ArgumentOutOfRangeException.ThrowIfZero(points.Count);
        var levels = points.Select(p => p.Usable).Distinct().Order().ToList();
        var jumps = levels.Zip(levels.Skip(1), (a, b) => b - a).ToList();
        long step = jumps.Count == 0 ? 0 : jumps.GroupBy(j => j).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        return new Staircase(points, levels[0], step, jumps.Count, points.Max(p => p.Usable - p.Request));
    }

    /// <summary>The staircase as a step chart, with the "usable = requested" diagonal for comparison.</summary>
    public static GenericChart StaircaseFigure(Staircase s) =>
        Chart.Combine([
                Chart.Line<long, long, string>(x: s.Points.Select(p => p.Request), y: s.Points.Select(p => p.Usable), Name: "usable size")
                    .SetOnTraces("line", new Dictionary<string, object> { ["shape"] = "hv" }),
                Chart.Line<long, long, string>(x: s.Points.Select(p => p.Request), y: s.Points.Select(p => p.Request), Name: "requested"),
            ])
            .Titled($"malloc_usable_size(malloc(n)): steps of {s.Step} bytes").XAxis("requested bytes n").YAxis("usable bytes");

    /// <summary>Bytes a C string takes: its UTF-8 encoding and the terminating 0.</summary>
    public static long CStringSize(string s) => Encoding.UTF8.GetByteCount(s) + 1L;

    /// <summary>
    /// The course's concatenate: a new block of strlen(a) + strlen(b) + 1 bytes holding a's bytes, then b's, then 0.
    /// The caller owns (and must free) the result.
    /// </summary>
    public static nint Concatenate(CheckingHeap heap, nint a, nint b)
    {
        ArgumentNullException.ThrowIfNull(heap);
        var x = heap.CString(a);
        var y = heap.CString(b);
        nint result = heap.Malloc(x.Length + y.Length + 1L);
        var r = heap.Span(result);
        x.CopyTo(r);
        y.CopyTo(r[x.Length..]);
        r[^1] = 0;
        return result;
    }

    /// <summary>The leaky version: concatenate(concatenate(a, b), concatenate(c, d)); the two intermediate results are never freed.</summary>
    public static nint LeakyConcatenate4(CheckingHeap heap, nint a, nint b, nint c, nint d) =>
        Concatenate(heap, Concatenate(heap, a, b), Concatenate(heap, c, d));

    /// <summary>What a C program leaks with <see cref="LeakyConcatenate4"/>: the bytes of "ab\0" and "cd\0" joined, in 2 blocks.</summary>
    public static (long Bytes, int Blocks) ExpectedConcatenateLeak(string a, string b, string c, string d) =>
        (CStringSize(a + b) + CStringSize(c + d), 2);

    /// <summary>Fake students from Bogus with a fixed seed: the same seed gives the same students.</summary>
    public static IReadOnlyList<Student> FakeStudents(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        string[] courses = ["Operating Systems", "Systems Programming", "Computer Architecture", "Compilers", "Networks", "Databases"];
        var faker = new Faker<Student>("en")
            .CustomInstantiator(f =>
            {
                string first = f.Name.FirstName(), last = f.Name.LastName();
                return new Student($"{first} {last}", f.Internet.Email(first, last), $"{f.PickRandom(courses)} ({f.Random.Int(1, 4)}0{f.Random.Int(1, 9)})");
            })
            .UseSeed(seed);
        return faker.Generate(count);
    }

    /// <summary>
    /// Stores <paramref name="count"/> fake students on the heap (three strdup'd strings each, see <see cref="Store"/>),
    /// then frees every one except every <paramref name="leakEvery"/>-th (records k-1, 2k-1, …), which are leaked on purpose.
    /// </summary>
    public static StudentBatch StoreStudents(CheckingHeap heap, int count, int leakEvery, int seed)
    {
        ArgumentNullException.ThrowIfNull(heap);
        ArgumentOutOfRangeException.ThrowIfLessThan(leakEvery, 1);
        var stored = FakeStudents(count, seed).Select(s => Store(heap, s)).ToList();
        var leaked = new List<StoredStudent>();
        for (int i = 0; i < stored.Count; i++)
        {
            if ((i + 1) % leakEvery == 0) { leaked.Add(stored[i]); continue; }
            heap.Free(stored[i].Name);
            heap.Free(stored[i].Email);
            heap.Free(stored[i].Course);
        }
        return new StudentBatch(seed, leakEvery, stored, leaked);
    }

    /// <summary>Copies a student's three strings onto the heap, one call site each (so a leak report names which string leaked).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static StoredStudent Store(CheckingHeap heap, Student s)
    {
        ArgumentNullException.ThrowIfNull(heap);
        nint name = heap.Strdup(s.Name);
        nint email = heap.Strdup(s.Email);
        nint course = heap.Strdup(s.Course);
        return new StoredStudent(s, name, email, course);
    }

    static unsafe Span<byte> Bytes(nint p, long size) => new((void*)p, checked((int)size));
}

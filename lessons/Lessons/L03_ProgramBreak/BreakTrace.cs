using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Lessons.Posix;

namespace Lessons.L03_ProgramBreak;

/// <summary>
/// One call of a <see cref="BreakTrace"/>: the real break (sbrk(0)) just before and just after it, the pointer, and
/// the kind of region of /proc/self/maps that pointer lies in ([heap] = the break's area).
/// </summary>
/// <param name="Phase">"malloc" for the series; "retry" for the malloc after freeing the last block (--free-and-retry);
/// "free" for each free of --free-all (in the order of the mallocs); "trim" for malloc_trim(0) (--trim).</param>
/// <param name="Step">1, 2, … in the order of the calls.</param>
/// <param name="Request">Bytes asked for (free: the block's size; trim: 0).</param>
/// <param name="Pointer">What malloc returned, or the block freed (trim: 1 when malloc_trim released memory, else 0).</param>
/// <param name="BreakBefore">sbrk(0) just before the call.</param>
/// <param name="BreakAfter">sbrk(0) just after it.</param>
/// <param name="Kind">The kind of /proc/self/maps region the pointer is in (Heap: between the heap's start and the break).</param>
/// <param name="MainThread">True when the call ran on the process's main thread (gettid() == getpid()).</param>
/// <param name="FreeTopBefore">mallinfo2().keepcost just before the call: the size of the main arena's free top chunk,
/// the free memory that ends at the break.</param>
/// <param name="FreeTopAfter">mallinfo2().keepcost just after the call.</param>
public sealed record BreakStep(string Phase, int Step, long Request, ulong Pointer, ulong BreakBefore, ulong BreakAfter,
    RegionKind Kind, bool MainThread, long FreeTopBefore = 0, long FreeTopAfter = 0)
{
    /// <summary>How far the break moved during this call (0 when it stayed; negative when it came down).</summary>
    public long BreakMoved => (long)(BreakAfter - BreakBefore);

    /// <summary>Pointer minus the break after the call: small and negative inside the heap, huge elsewhere.</summary>
    public long DistanceFromBreak => (long)(Pointer - BreakAfter);

    /// <summary>
    /// A malloc whose chunk (pointer − 16) starts exactly where the free top started (break before − free top before):
    /// glibc carved it from the top chunk, growing the break first if the top was too small. False for a chunk reused
    /// from malloc's free lists below the top.
    /// </summary>
    public bool CarvedFromTop => Phase is "malloc" or "retry" && Pointer - MallocChunks.HeaderBytes == BreakBefore - (ulong)FreeTopBefore;

    /// <summary>This step as one line of JSON (the format of <c>break-trace --json</c>).</summary>
    public string ToJson() => new JsonObject
    {
        ["phase"] = Phase,
        ["step"] = Step,
        ["request"] = Request,
        ["pointer"] = Pointer,
        ["breakBefore"] = BreakBefore,
        ["breakAfter"] = BreakAfter,
        ["kind"] = Kind.ToString(),
        ["mainThread"] = MainThread,
        ["freeTopBefore"] = FreeTopBefore,
        ["freeTopAfter"] = FreeTopAfter,
    }.ToJsonString();

    /// <summary>Reads one line written by <see cref="ToJson"/>; anything else is a FormatException quoting it.</summary>
    public static BreakStep FromJson(string line)
    {
        try
        {
            var o = JsonNode.Parse(line)!.AsObject();
            return new BreakStep((string)o["phase"]!, (int)o["step"]!, (long)o["request"]!, (ulong)o["pointer"]!,
                (ulong)o["breakBefore"]!, (ulong)o["breakAfter"]!, Enum.Parse<RegionKind>((string)o["kind"]!), (bool)o["mainThread"]!,
                (long)o["freeTopBefore"]!, (long)o["freeTopAfter"]!);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException
                                      or ArgumentException or FormatException or InvalidCastException)
        {
            throw new FormatException($"not a break-trace line: \"{line}\" ({e.Message})", e);
        }
    }

    /// <summary>The column titles matching <see cref="ToString"/>.</summary>
    public const string Header = "phase  step     request  pointer         break before    break after      moved  free top after  region";

    public override string ToString() =>
        $"{Phase,-6}{Step,5} {Request,11:N0}  0x{Pointer:x12}  0x{BreakBefore:x12}  0x{BreakAfter:x12} {BreakMoved,9:N0}  {FreeTopAfter,14:N0}  {Kind}";
}

/// <summary>What <see cref="BreakTrace.Run"/> does: <see cref="Count"/> mallocs of <see cref="Size"/> bytes each.</summary>
/// <param name="Count">How many mallocs (1 to 10,000).</param>
/// <param name="Size">Bytes each (1 byte to 1 GiB).</param>
/// <param name="Threshold">If set, mallopt(M_MMAP_THRESHOLD, Threshold) first (it also turns glibc's dynamic threshold off).</param>
/// <param name="FreeAndRetry">After the series, free the last block and malloc the same size once more (phase "retry").</param>
/// <param name="TopPad">If set, mallopt(M_TOP_PAD, TopPad) first: the extra bytes glibc asks for with each brk (default 128 KiB).</param>
/// <param name="TrimThreshold">If set, mallopt(M_TRIM_THRESHOLD, TrimThreshold) first: how big the free top must be
/// before free lowers the break (default 128 KiB).</param>
/// <param name="FreeAll">Free the blocks one by one, first to last as the lecture's program does, recording each free (phase "free").</param>
/// <param name="Trim">At the end, call malloc_trim(0) and record it (phase "trim").</param>
/// <param name="OnThread">Run the calls on a new thread instead of the calling one.</param>
public sealed record BreakTraceOptions(int Count = 50, long Size = 32 * 1024, int? Threshold = null, bool FreeAndRetry = false,
    int? TopPad = null, int? TrimThreshold = null, bool FreeAll = false, bool Trim = false, bool OnThread = false)
{
    /// <summary>The command-line arguments of <c>workbook break-trace</c> that ask for these options.</summary>
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string> { "--count", Count.ToString(CultureInfo.InvariantCulture), "--size", Size.ToString(CultureInfo.InvariantCulture) };
        if (Threshold is int t) args.AddRange(["--threshold", t.ToString(CultureInfo.InvariantCulture)]);
        if (FreeAndRetry) args.Add("--free-and-retry");
        if (TopPad is int pad) args.AddRange(["--top-pad", pad.ToString(CultureInfo.InvariantCulture)]);
        if (TrimThreshold is int trim) args.AddRange(["--trim-threshold", trim.ToString(CultureInfo.InvariantCulture)]);
        if (FreeAll) args.Add("--free-all");
        if (Trim) args.Add("--trim");
        if (OnThread) args.Add("--on-thread");
        return args;
    }

    /// <summary>Checks the values: at least one malloc, at most 10,000; a size from 1 byte to 1 GiB; thresholds and pad ≥ 0.</summary>
    public void Validate()
    {
        if (Count is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(Count), Count, "--count must be 1 to 10000");
        if (Size is < 1 or > 1L << 30) throw new ArgumentOutOfRangeException(nameof(Size), Size, "--size must be 1 byte to 1 GiB");
        if (Threshold < 0) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "--threshold must not be negative");
        if (TopPad < 0) throw new ArgumentOutOfRangeException(nameof(TopPad), TopPad, "--top-pad must not be negative");
        if (TrimThreshold < 0) throw new ArgumentOutOfRangeException(nameof(TrimThreshold), TrimThreshold, "--trim-threshold must not be negative");
    }
}

/// <summary>
/// Lesson 03: watch the real program break while glibc's malloc works. Each call is bracketed by two sbrk(0)
/// reads (and two mallinfo2 reads of the free top outside them); after the series /proc/self/maps tells which region
/// each pointer is in. Nothing here moves the break itself: only malloc, free and malloc_trim do. Everything is freed
/// before returning.
/// <para>
/// Run it on the process's MAIN thread (the <c>workbook break-trace</c> command does): glibc serves the main thread
/// from the main arena, the one that grows with brk. Other threads get arenas of their own in mmap'd memory while
/// there are fewer than arena_max (8 × cores on 64-bit, or MALLOC_ARENA_MAX); past that they share arenas, the main
/// one included (<see cref="BreakTraceOptions.OnThread"/> and the arenaMax of <see cref="RunInChild"/> show both).
/// Other threads of a .NET process may also call malloc meanwhile: a step's <see cref="BreakStep.BreakMoved"/> is a
/// measured difference, not a proof that this call alone moved it.
/// </para>
/// </summary>
public static class BreakTrace
{
    /// <summary>The environment variable glibc reads at start-up for the most arenas it makes (M_ARENA_MAX).</summary>
    public const string ArenaMaxVariable = "MALLOC_ARENA_MAX";

    /// <summary>Runs the series in this process, on the calling thread (or a new one), and frees every block afterwards.</summary>
    public static IReadOnlyList<BreakStep> Run(BreakTraceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!options.OnThread)
            return RunHere(options);
        IReadOnlyList<BreakStep>? steps = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { steps = RunHere(options); }
            catch (Exception e) when (e is PosixException or InvalidOperationException) { failure = e; }
        })
        { Name = "break-trace", IsBackground = true };
        thread.Start();
        thread.Join();
        return failure is null ? steps! : throw new InvalidOperationException($"break-trace on a new thread: {failure.Message}", failure);
    }

    static long FreeTop() => (long)LibcHeap.MallInfo().keepcost;

    static IReadOnlyList<BreakStep> RunHere(BreakTraceOptions options)
    {
        if (options.Threshold is int t)
            LibcHeap.Mallopt(MalloptParam.M_MMAP_THRESHOLD, t);
        if (options.TopPad is int pad)
            LibcHeap.Mallopt(MalloptParam.M_TOP_PAD, pad);
        if (options.TrimThreshold is int trim)
            LibcHeap.Mallopt(MalloptParam.M_TRIM_THRESHOLD, trim);
        // The first call of each import binds it (dlsym), which may malloc: done here, outside the brackets.
        LibcHeap.Free(LibcHeap.Malloc(1));
        _ = FreeTop() + ProgramBreak.Current;
        bool main = Threads.OnMainThread;
        ulong heapStart = ProcMaps.Read().FirstOrDefault(r => r.Kind == RegionKind.Heap)?.Start ?? ulong.MaxValue;
        int n = options.Count;
        var pointers = new nint[n];
        var before = new nint[n];
        var after = new nint[n];
        var topBefore = new long[n];
        var topAfter = new long[n];
        var steps = new List<BreakStep>(2 * n + 2);
        int taken = 0, freed = 0;
        try
        {
            for (; taken < n; taken++) // nothing between the sbrk(0) reads but malloc
            {
                topBefore[taken] = FreeTop();
                before[taken] = ProgramBreak.Current;
                pointers[taken] = LibcHeap.Malloc(options.Size);
                after[taken] = ProgramBreak.Current;
                topAfter[taken] = FreeTop();
            }
            // Reading /proc/self/maps mallocs on this thread (a small block above the last one would keep the frees
            // from reaching the top): with FreeAll the regions are read after the frees, and a block counts as [heap]
            // when it lies between the heap's start and the break after its malloc.
            var regions = options.FreeAll ? null : ProcMaps.Read();
            var kinds = regions is null ? new RegionKind[n] : pointers.Select(p => KindAt(regions, p)).ToArray();
            if (regions is null)
                for (int i = 0; i < taken; i++)
                    kinds[i] = (ulong)pointers[i] >= heapStart && pointers[i] < after[i] ? RegionKind.Heap : RegionKind.Anonymous;
            for (int i = 0; i < taken; i++)
                steps.Add(new BreakStep("malloc", i + 1, options.Size, (ulong)pointers[i], (ulong)before[i], (ulong)after[i],
                    kinds[i], main, topBefore[i], topAfter[i]));
            if (options.FreeAndRetry)
            {
                LibcHeap.Free(pointers[--taken]);
                long fb = FreeTop();
                nint b = ProgramBreak.Current;
                pointers[taken] = LibcHeap.Malloc(options.Size);
                nint a = ProgramBreak.Current;
                long fa = FreeTop();
                taken++;
                kinds[taken - 1] = KindAt(ProcMaps.Read(), pointers[taken - 1]);
                steps.Add(new BreakStep("retry", steps.Count + 1, options.Size, (ulong)pointers[taken - 1], (ulong)b, (ulong)a,
                    kinds[taken - 1], main, fb, fa));
            }
            if (options.FreeAll)
            {
                for (; freed < taken; freed++) // first to last, as the lecture's program frees
                {
                    topBefore[freed] = FreeTop();
                    before[freed] = ProgramBreak.Current;
                    LibcHeap.Free(pointers[freed]);
                    after[freed] = ProgramBreak.Current;
                    topAfter[freed] = FreeTop();
                }
                for (int i = 0; i < freed; i++)
                    steps.Add(new BreakStep("free", steps.Count + 1, options.Size, (ulong)pointers[i], (ulong)before[i], (ulong)after[i],
                        kinds[i], main, topBefore[i], topAfter[i]));
            }
            if (options.Trim)
            {
                long fb = FreeTop();
                nint b = ProgramBreak.Current;
                bool released = LibcHeap.Trim(0);
                nint a = ProgramBreak.Current;
                long fa = FreeTop();
                steps.Add(new BreakStep("trim", steps.Count + 1, 0, released ? 1UL : 0UL, (ulong)b, (ulong)a, RegionKind.Other, main, fb, fa));
            }
            return steps;
        }
        finally
        {
            for (int i = taken - 1; i >= freed; i--)
                LibcHeap.Free(pointers[i]);
        }
    }

    static RegionKind KindAt(IReadOnlyList<MapsRegion> regions, nint p) =>
        regions.FirstOrDefault(r => r.Contains(p))?.Kind ?? RegionKind.Other;

    /// <summary>
    /// Runs <c>workbook break-trace … --json</c> as a child process (<see cref="WorkbookCli"/>), so that the mallocs
    /// happen on a main thread, and returns its steps. <paramref name="arenaMax"/> sets MALLOC_ARENA_MAX in the
    /// child's environment (glibc reads it once, before the child has any thread). <paramref name="workbookDll"/> defaults to
    /// <see cref="WorkbookCli.Location"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The workbook is not built (build it: dotnet build lessons/Workbook).</exception>
    /// <exception cref="TimeoutException">The command did not finish in time.</exception>
    /// <exception cref="InvalidOperationException">The command failed; the message holds its error output.</exception>
    public static IReadOnlyList<BreakStep> RunInChild(BreakTraceOptions options, string? workbookDll = null, TimeSpan? timeout = null,
        int? arenaMax = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (arenaMax < 1) throw new ArgumentOutOfRangeException(nameof(arenaMax), arenaMax, "arenaMax must be at least 1");
        var environment = arenaMax is int max
            ? new Dictionary<string, string> { [ArenaMaxVariable] = max.ToString(CultureInfo.InvariantCulture) } : null;
        var run = WorkbookCli.Run(["break-trace", .. options.ToArguments(), "--json"], workbookDll, timeout, environment);
        if (run.ExitCode != 0)
            throw new InvalidOperationException(
                $"break-trace {string.Join(' ', options.ToArguments())} exited with {run.ExitCode}: {run.Stderr.Trim()}");
        return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(BreakStep.FromJson).ToList();
    }
}

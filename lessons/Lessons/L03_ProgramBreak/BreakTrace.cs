using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Lessons.Posix;

namespace Lessons.L03_ProgramBreak;

/// <summary>
/// One malloc of a <see cref="BreakTrace"/>: the real break (sbrk(0)) just before and just after it, the pointer it
/// returned, and the kind of region of /proc/self/maps that pointer lies in ([heap] = the break's area).
/// </summary>
/// <param name="Phase">"malloc" for the series; "retry" for the malloc after freeing the last block (--free-and-retry).</param>
/// <param name="Step">1, 2, … in the order of the mallocs.</param>
/// <param name="Request">Bytes asked for.</param>
/// <param name="Pointer">What malloc returned.</param>
/// <param name="BreakBefore">sbrk(0) just before the malloc.</param>
/// <param name="BreakAfter">sbrk(0) just after it.</param>
/// <param name="Kind">The kind of /proc/self/maps region the pointer is in (Heap: between the heap's start and the break).</param>
/// <param name="MainThread">True when the malloc ran on the process's main thread (gettid() == getpid()).</param>
public sealed record BreakStep(string Phase, int Step, long Request, ulong Pointer, ulong BreakBefore, ulong BreakAfter,
    RegionKind Kind, bool MainThread)
{
    /// <summary>How far the break moved during this malloc (0 when it stayed).</summary>
    public long BreakMoved => (long)(BreakAfter - BreakBefore);

    /// <summary>Pointer minus the break after the malloc: small and negative inside the heap, huge elsewhere.</summary>
    public long DistanceFromBreak => (long)(Pointer - BreakAfter);

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
    }.ToJsonString();

    /// <summary>Reads one line written by <see cref="ToJson"/>; anything else is a FormatException quoting it.</summary>
    public static BreakStep FromJson(string line)
    {
        try
        {
            var o = JsonNode.Parse(line)!.AsObject();
            return new BreakStep((string)o["phase"]!, (int)o["step"]!, (long)o["request"]!, (ulong)o["pointer"]!,
                (ulong)o["breakBefore"]!, (ulong)o["breakAfter"]!, Enum.Parse<RegionKind>((string)o["kind"]!), (bool)o["mainThread"]!);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException
                                      or ArgumentException or FormatException or InvalidCastException)
        {
            throw new FormatException($"not a break-trace line: \"{line}\" ({e.Message})", e);
        }
    }

    /// <summary>The column titles matching <see cref="ToString"/>.</summary>
    public const string Header = "phase  step     request  pointer         break before    break after      moved  region";

    public override string ToString() =>
        $"{Phase,-6}{Step,5} {Request,11:N0}  0x{Pointer:x12}  0x{BreakBefore:x12}  0x{BreakAfter:x12} {BreakMoved,9:N0}  {Kind}";
}

/// <summary>What <see cref="BreakTrace.Run"/> does: <see cref="Count"/> mallocs of <see cref="Size"/> bytes each.</summary>
/// <param name="Count">How many mallocs (1 to 10,000).</param>
/// <param name="Size">Bytes each (1 byte to 1 GiB).</param>
/// <param name="Threshold">If set, mallopt(M_MMAP_THRESHOLD, Threshold) first (it also turns glibc's dynamic threshold off).</param>
/// <param name="FreeAndRetry">After the series, free the last block and malloc the same size once more (phase "retry").</param>
public sealed record BreakTraceOptions(int Count = 50, long Size = 32 * 1024, int? Threshold = null, bool FreeAndRetry = false)
{
    /// <summary>The command-line arguments of <c>workbook break-trace</c> that ask for these options.</summary>
    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string> { "--count", Count.ToString(CultureInfo.InvariantCulture), "--size", Size.ToString(CultureInfo.InvariantCulture) };
        if (Threshold is int t) args.AddRange(["--threshold", t.ToString(CultureInfo.InvariantCulture)]);
        if (FreeAndRetry) args.Add("--free-and-retry");
        return args;
    }

    /// <summary>Checks the values: at least one malloc, at most 10,000; a size from 1 byte to 1 GiB; a threshold ≥ 0.</summary>
    public void Validate()
    {
        if (Count is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(Count), Count, "--count must be 1 to 10000");
        if (Size is < 1 or > 1L << 30) throw new ArgumentOutOfRangeException(nameof(Size), Size, "--size must be 1 byte to 1 GiB");
        if (Threshold < 0) throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "--threshold must not be negative");
    }
}

/// <summary>
/// Lesson 03: watch the real program break while glibc's malloc works. Each malloc is bracketed by two sbrk(0)
/// reads; after the series /proc/self/maps tells which region each pointer is in. Nothing here moves the break
/// itself: only malloc does. Everything is freed before returning.
/// <para>
/// Run it on the process's MAIN thread (the <c>workbook break-trace</c> command does): glibc serves only the main
/// thread from the main arena, the one that grows with brk. Other threads get arenas of their own in mmap'd memory,
/// so their mallocs never move the break (a notebook cell runs on such a thread; <see cref="BreakStep.MainThread"/>
/// says which case a step was). Other threads of a .NET process may also call malloc meanwhile: a step's
/// <see cref="BreakStep.BreakMoved"/> is a measured difference, not a proof that this malloc alone moved it.
/// </para>
/// </summary>
public static class BreakTrace
{


    /// <summary>Runs the series in this process, on the calling thread, and frees every block afterwards.</summary>
    public static IReadOnlyList<BreakStep> Run(BreakTraceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Threshold is int t)
            LibcHeap.Mallopt(MalloptParam.M_MMAP_THRESHOLD, t);
        bool main = Threads.OnMainThread;
        var pointers = new nint[options.Count];
        var before = new nint[options.Count];
        var after = new nint[options.Count];
        var steps = new List<BreakStep>(options.Count + 1);
        int taken = 0;
        try
        {
            for (; taken < options.Count; taken++) // nothing between the reads but malloc
            {
                before[taken] = ProgramBreak.Current;
                pointers[taken] = LibcHeap.Malloc(options.Size);
                after[taken] = ProgramBreak.Current;
            }
            var regions = ProcMaps.Read();
            for (int i = 0; i < taken; i++)
                steps.Add(new BreakStep("malloc", i + 1, options.Size, (ulong)pointers[i], (ulong)before[i], (ulong)after[i],
                    KindAt(regions, pointers[i]), main));
            if (options.FreeAndRetry)
            {
                LibcHeap.Free(pointers[--taken]);
                nint b = ProgramBreak.Current;
                pointers[taken] = LibcHeap.Malloc(options.Size);
                nint a = ProgramBreak.Current;
                taken++;
                steps.Add(new BreakStep("retry", taken + 1, options.Size, (ulong)pointers[taken - 1], (ulong)b, (ulong)a,
                    KindAt(ProcMaps.Read(), pointers[taken - 1]), main));
            }
            return steps;
        }
        finally
        {
            for (int i = taken - 1; i >= 0; i--)
                LibcHeap.Free(pointers[i]);
        }
    }

    static RegionKind KindAt(IReadOnlyList<MapsRegion> regions, nint p) =>
        regions.FirstOrDefault(r => r.Contains(p))?.Kind ?? RegionKind.Other;

    /// <summary>
    /// Runs <c>workbook break-trace … --json</c> as a child process (<see cref="WorkbookCli"/>), so that the mallocs
    /// happen on a main thread, and returns its steps. <paramref name="workbookDll"/> defaults to
    /// <see cref="WorkbookCli.Location"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The workbook is not built (build it: dotnet build lessons/Workbook).</exception>
    /// <exception cref="TimeoutException">The command did not finish in time.</exception>
    /// <exception cref="InvalidOperationException">The command failed; the message holds its error output.</exception>
    public static IReadOnlyList<BreakStep> RunInChild(BreakTraceOptions options, string? workbookDll = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var run = WorkbookCli.Run(["break-trace", .. options.ToArguments(), "--json"], workbookDll, timeout);
        if (run.ExitCode != 0)
            throw new InvalidOperationException(
                $"break-trace {string.Join(' ', options.ToArguments())} exited with {run.ExitCode}: {run.Stderr.Trim()}");
        return run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(BreakStep.FromJson).ToList();
    }
}

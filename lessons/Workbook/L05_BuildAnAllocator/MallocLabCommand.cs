using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lessons.Heap;

namespace Workbook.L05_BuildAnAllocator;

/// <summary>
/// <c>workbook malloc-lab</c>: lesson 05's trace driver, like the CS:APP lab's <c>mdriver -V</c>. Replays .rep traces
/// against an allocator of the registry (<see cref="Allocators"/>: the reference allocators and those marked in
/// Exercises.dll) or against libc, prints every parameter, a table per trace and the totals.
/// Exit code 0 when every trace is valid, 1 when one is not (or a trace file is malformed), 2 for bad options.
/// </summary>
static class MallocLabCommand
{
    const string Usage =
        "usage: workbook malloc-lab --allocator NAME [--traces DIR|FILE...] [--format auto|classic|cmu] [--min-seconds S] [--json FILE]\n" +
        "       (--json FILE also writes the figures as JSON: the averages, then one object per trace)\n" +
        "       workbook malloc-lab --list                  (the allocators found)\n" +
        "       workbook malloc-lab --write-traces DIR      (regenerate the bundled traces into DIR)";

    sealed record Options(string? Allocator, string? WriteTo, bool List, bool Help, IReadOnlyList<string> TracePaths, MallocLabOptions Lab, TraceFormat? Format = null, string? Json = null);

    public static int Execute(string[] args) => Execute(args, Console.Out, Console.Error);

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        Options options;
        try
        {
            options = Parse(args);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"malloc-lab: {e.Message}");
            stderr.WriteLine(Usage);
            return 2;
        }

        if (options.Help)
        {
            stdout.WriteLine(Usage);
            return 0;
        }
        if (options.WriteTo is not null)
            return WriteTraces(options.WriteTo, stdout, stderr);
        var found = Registry();
        if (options.List)
            return List(found, stdout);

        if (string.Equals(options.Allocator, MallocLab.LibcName, StringComparison.OrdinalIgnoreCase))
            return Run(null, options, stdout, stderr);
        var matches = Allocators.Matches(found, options.Allocator!);
        if (matches.Count == 1)
            return Run(matches[0], options, stdout, stderr);
        stderr.WriteLine(matches.Count > 1
            ? $"malloc-lab: '{options.Allocator}' is ambiguous; give --allocator one of the names in the first column:"
            : $"malloc-lab: no allocator named '{options.Allocator}'; give --allocator one of the names in the first column:");
        WriteNames(found, stderr);
        return 2;
    }

    static Options Parse(string[] args)
    {
        string? allocator = null, writeTo = null, json = null;
        var tracePaths = new List<string>();
        var lab = new MallocLabOptions();
        TraceFormat? format = null;
        bool list = false;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--allocator": allocator = Value(); break;
                case "--traces":
                    tracePaths.Add(Value());
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) tracePaths.Add(args[++i]);
                    break;
                case "--min-seconds":
                    string text = Value();
                    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || !(s >= 0 && s <= 3600))
                        throw new ArgumentException($"--min-seconds needs a number of seconds in [0, 3600], not '{text}'");
                    lab = lab with { MinSeconds = s };
                    break;
                case "--format":
                    string name = Value();
                    format = name switch
                    {
                        "auto" => null,
                        "classic" => TraceFormat.Classic,
                        "cmu" => TraceFormat.Cmu,
                        _ => throw new ArgumentException($"--format takes auto, classic or cmu, not '{name}'"),
                    };
                    break;
                case "--json": json = Value(); break;
                case "--list": list = true; break;
                case "--write-traces": writeTo = Value(); break;
                case "-h" or "--help": return new Options(null, null, false, true, [], lab);
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (!list && writeTo is null && allocator is null)
            throw new ArgumentException("--allocator NAME is required");
        return new Options(allocator, writeTo, list, false, tracePaths, lab, format, json);
    }

    /// <summary>The registry with the student's assembly: the reference allocators, then those marked in Exercises.dll.</summary>
    internal static IReadOnlyList<AllocatorInfo> Registry() => Allocators.Find(typeof(Exercises.StudentAllocator).Assembly);

    static int WriteTraces(string folder, TextWriter stdout, TextWriter stderr)
    {
        if (File.Exists(folder))
        {
            stderr.WriteLine($"malloc-lab: --write-traces needs a folder; {folder} is a file (nothing written)");
            return 2;
        }
        try
        {
            Directory.CreateDirectory(folder);
            foreach (var t in TraceGenerator.Bundled())
            {
                t.Save(Path.Combine(folder, t.Name));
                stdout.WriteLine($"wrote {Path.Combine(folder, t.Name)}: {t}");
            }
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"malloc-lab: cannot write the traces into {folder}: {e.Message}");
            return 1;
        }
    }

    static int List(IReadOnlyList<AllocatorInfo> found, TextWriter stdout)
    {
        stdout.WriteLine("allocators found (--allocator takes the name in the first column):");
        WriteNames(found, stdout);
        return 0;
    }

    static void WriteNames(IReadOnlyList<AllocatorInfo> found, TextWriter writer)
    {
        writer.WriteLine($"  {MallocLab.LibcName,-20} glibc's malloc, realloc and free (the throughput reference; no utilization)");
        foreach (var a in found) writer.WriteLine($"  {a}");
    }

    static int Run(AllocatorInfo? pick, Options options, TextWriter stdout, TextWriter stderr)
    {
        var tracePaths = options.TracePaths.Count > 0
            ? options.TracePaths
            : [Path.Combine(Repository.FindRoot() ?? Environment.CurrentDirectory, "assets", "traces")];
        IReadOnlyList<Trace> traces;
        try
        {
            traces = MallocLab.LoadTraces(tracePaths, options.Format);
        }
        catch (Exception e) when (e is TraceFormatException or FileNotFoundException or IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"malloc-lab: {e.Message}");
            return 1;
        }
        if (traces.Count == 0)
        {
            stderr.WriteLine($"malloc-lab: no .rep files in {string.Join(", ", tracePaths)}");
            return 1;
        }

        var lab = options.Lab;
        stdout.WriteLine($"allocator:   {(pick is null ? $"{MallocLab.LibcName} (glibc's malloc, realloc and free)" : pick.ToString())}");
        stdout.WriteLine($"traces:      {string.Join(", ", tracePaths)} ({traces.Count} files)");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"min-seconds: {lab.MinSeconds} per trace and allocator (timed replays without checks, the fastest counts, at most {lab.MaxReplays:N0}), after {lab.WarmUpSeconds} s of untimed replays of all traces (so the JIT has optimized the code)"));
        stdout.WriteLine($"format:      {(options.Format is { } f ? $"{f.ToString().ToLowerInvariant()} for every trace (--format)" : "told from each file (--format auto): classic if it is valid classic, else CMU if its header reads as CMU")}");
        stdout.WriteLine($"limits:      at most {Trace.MaxOps:N0} ops per trace and {MallocLab.MaxTotalOps:N0} in all, lines of at most {Trace.MaxLineLength:N0} characters (a loaded trace takes about 30 bytes per op)");
        stdout.WriteLine($"arena:       max({lab.MinArenaBytes:N0}, 4 × heap size hint, 4 × peak payload) bytes per trace (SimulatedBreak), capped at {lab.MaxArenaBytes:N0}: a trace whose peak payload passes the cap is out of memory");
        stdout.WriteLine($"checks:      non-NULL for size > 0, {lab.Alignment}-byte alignment, inside [HeapLo, Break), no overlap, payload patterns kept by realloc and intact until free");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"util:        peak live payload ÷ (heap high-water mark + side state); score = 100 × ({lab.UtilizationWeight} × util + {1 - lab.UtilizationWeight} × min(1, ops/s ÷ libc ops/s)), 0 if invalid"));
        stdout.WriteLine($"side B:      the most bytes the allocator kept outside its heap (managed memory reachable from its fields, its own fields past {SideState.FreeFieldBytes} bytes), counted in util for every allocator alike");
        stdout.WriteLine($"best:        the bound no allocator can pass: peak payload ÷ the live sizes rounded up to {lab.Alignment} at the fullest moment (no headers, no holes)");
        stdout.WriteLine();

        var report = pick is null ? MallocLab.RunLibc(traces, lab) : MallocLab.Run(traces, pick.Create, lab);
        foreach (var line in report.ToString().Split('\n').Skip(2)) stdout.WriteLine(line);   // the first two repeat what is printed above
        stdout.WriteLine("semantics:");
        int width = traces.Max(t => t.Name.Length);
        foreach (var t in traces) stdout.WriteLine($"  {t.Name.PadRight(width)}  {t.FormatDescription}");
        if (options.Json is { } path)
            try
            {
                File.WriteAllText(path, Json(report));
                stdout.WriteLine($"wrote {path}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"malloc-lab: cannot write {path}: {e.Message}");
                return 1;
            }
        return report.AllValid ? 0 : 1;
    }

    /// <summary>The report as JSON (fractions for utilization, ops per second, scores out of 100; null where undefined, as for libc).</summary>
    internal static string Json(MallocLabReport report)
    {
        var traces = new JsonArray();
        foreach (var r in report.Results)
            traces.Add(new JsonObject
            {
                ["trace"] = r.Trace,
                ["ops"] = r.Ops,
                ["valid"] = r.Valid,
                ["utilization"] = r.Utilization,
                ["utilization_bound"] = r.UtilizationBound,
                ["side_bytes"] = r.SideBytes,
                ["ops_per_second"] = r.OpsPerSecond,
                ["libc_ops_per_second"] = r.LibcOpsPerSecond,
                ["score"] = r.Score,
                ["error"] = r.Error,
            });
        return new JsonObject
        {
            ["allocator"] = report.Allocator,
            ["valid_traces"] = report.Results.Count(r => r.Valid),
            ["traces_run"] = report.Results.Count,
            ["utilization"] = report.AverageUtilization,
            ["utilization_bound"] = report.AverageUtilizationBound,
            ["ops_per_second"] = report.OpsPerSecond,
            ["libc_ops_per_second"] = report.LibcOpsPerSecond,
            ["score"] = report.AverageScore,
            ["traces"] = traces,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }
}

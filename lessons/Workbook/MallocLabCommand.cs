using System.Globalization;
using System.Reflection;
using Lessons.Heap;
using Lessons.L03_ProgramBreak;

namespace Workbook;

/// <summary>
/// <c>workbook malloc-lab</c>: lesson 05's trace driver, like the CS:APP lab's <c>mdriver -V</c>. Replays .rep traces
/// against an allocator found by name among the IAllocator classes of Lessons.dll and Exercises.dll that have a
/// (SimulatedBreak) constructor (or against libc), prints every parameter, a table per trace and the totals.
/// Exit code 0 when every trace is valid, 1 when one is not (or a trace file is malformed), 2 for bad options.
/// </summary>
internal static class MallocLabCommand
{
    const string Usage =
        "usage: workbook malloc-lab --allocator NAME [--traces DIR|FILE...] [--min-seconds S]\n" +
        "       workbook malloc-lab --list                  (the allocators found)\n" +
        "       workbook malloc-lab --write-traces DIR      (regenerate the bundled traces into DIR)";

    /// <summary>
    /// An allocator the command can run: its name, what it is (for --list), how to make one over a heap (null: libc), and
    /// for a class of Exercises.dll that class, whose name selects it too (the reference policies share one class, so
    /// only their names do).
    /// </summary>
    internal sealed record Candidate(string Name, string What, Func<SimulatedBreak, IAllocator>? Create, Type? StudentType = null)
    {
        public override string ToString() => $"{Name,-20} {What}";
    }

    public static int Execute(string[] args) => Execute(args, Console.Out, Console.Error);

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? allocator = null, writeTo = null;
        var tracePaths = new List<string>();
        var options = new MallocLabOptions();
        bool list = false;
        try
        {
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
                        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || s < 0 || s > 3600)
                            throw new ArgumentException($"--min-seconds needs a number of seconds in [0, 3600], not '{text}'");
                        options = options with { MinSeconds = s };
                        break;
                    case "--list": list = true; break;
                    case "--write-traces": writeTo = Value(); break;
                    case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            if (!list && writeTo is null && allocator is null)
                throw new ArgumentException("--allocator NAME is required");
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"malloc-lab: {e.Message}");
            stderr.WriteLine(Usage);
            return 2;
        }

        if (writeTo is not null)
        {
            Directory.CreateDirectory(writeTo);
            foreach (var t in TraceGenerator.Bundled())
            {
                t.Save(Path.Combine(writeTo, t.Name));
                stdout.WriteLine($"wrote {Path.Combine(writeTo, t.Name)}: {t}");
            }
            return 0;
        }

        var candidates = FindAllocators(stderr);
        if (list)
        {
            stdout.WriteLine("allocators found:");
            foreach (var c in candidates) stdout.WriteLine($"  {c}");
            return 0;
        }

        var chosen = candidates.Where(c => string.Equals(c.Name, allocator, StringComparison.OrdinalIgnoreCase)
                                        || string.Equals(c.StudentType?.Name, allocator, StringComparison.OrdinalIgnoreCase)
                                        || string.Equals(c.StudentType?.FullName, allocator, StringComparison.OrdinalIgnoreCase)).ToList();
        if (chosen.Count != 1)
        {
            stderr.WriteLine(chosen.Count == 0
                ? $"malloc-lab: no allocator named '{allocator}'; give --allocator one of the names in the first column:"
                : $"malloc-lab: '{allocator}' is ambiguous; give --allocator one of the names in the first column:");
            foreach (var c in candidates) stderr.WriteLine($"  {c}");
            return 2;
        }

        if (tracePaths.Count == 0)
            tracePaths.Add(Path.Combine(Repository.FindRoot() ?? Environment.CurrentDirectory, "assets", "traces"));
        IReadOnlyList<Trace> traces;
        try
        {
            traces = MallocLab.LoadTraces([.. tracePaths]);
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

        var pick = chosen[0];
        stdout.WriteLine($"allocator:   {pick}");
        stdout.WriteLine($"traces:      {string.Join(", ", tracePaths)} ({traces.Count} files)");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"min-seconds: {options.MinSeconds} per trace and allocator (timed replays without checks, the fastest counts, at most {options.MaxReplays:N0}), after {options.WarmUpSeconds} s of untimed replays of all traces (so the JIT has optimized the code)"));
        stdout.WriteLine($"arena:       max({options.MinArenaBytes:N0}, 4 × heap size hint, 4 × peak payload) bytes per trace (SimulatedBreak)");
        stdout.WriteLine($"checks:      non-NULL for size > 0, {options.Alignment}-byte alignment, inside [HeapLo, Break), no overlap, payload patterns kept by realloc and intact until free");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"util:        peak live payload ÷ heap high-water mark; score = 100 × ({options.UtilizationWeight} × util + {1 - options.UtilizationWeight} × min(1, ops/s ÷ libc ops/s)), 0 if invalid"));
        stdout.WriteLine($"best:        the bound no allocator can pass: peak payload ÷ the live sizes rounded up to {options.Alignment} at the fullest moment (no headers, no holes)");
        stdout.WriteLine();

        var report = pick.Create is null ? MallocLab.RunLibc(traces, options) : MallocLab.Run(traces, pick.Create, options);
        var lines = report.ToString().Split('\n');
        foreach (var line in lines.Skip(2)) stdout.WriteLine(line);   // the first two repeat what is printed above
        return report.AllValid ? 0 : 1;
    }

    /// <summary>
    /// libc, the reference allocators (<see cref="Allocators.All"/>), then every concrete IAllocator with a public
    /// (SimulatedBreak) constructor in Exercises.dll (the student's), which Workbook references so that it is rebuilt with it.
    /// </summary>
    internal static IReadOnlyList<Candidate> FindAllocators(TextWriter? warnings = null)
    {
        var found = new List<Candidate> { new("libc", "libc malloc/realloc/free (reference; no utilization)", null) };
        foreach (var (name, create) in Allocators.All)
            found.Add(new Candidate(name, $"{Probe(create)?.GetType().FullName} (Lessons.dll, reference allocator)", create));
        Type[] types;
        try { types = Assembly.Load("Exercises").GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.OfType<Type>().ToArray(); }
        catch (Exception e) when (e is IOException or BadImageFormatException)
        {
            warnings?.WriteLine($"malloc-lab: could not load Exercises.dll: {e.Message}");
            types = [];
        }
        foreach (var type in types.Where(t => t is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false } && typeof(IAllocator).IsAssignableFrom(t))
                                  .OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var ctor = type.GetConstructor([typeof(SimulatedBreak)]);
            if (ctor is null) continue;
            IAllocator Create(SimulatedBreak heap)
            {
                try { return (IAllocator)ctor.Invoke([heap]); }
                catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
            }
            found.Add(new Candidate(Probe(Create)?.Name ?? type.Name, $"{type.FullName} ({type.Assembly.GetName().Name}.dll)", Create, type));
        }
        return found;
    }

    // One allocator made over a small heap (its name and class), or null when its constructor throws (a student's may).
    static IAllocator? Probe(Func<SimulatedBreak, IAllocator> create)
    {
        try
        {
            using var heap = new SimulatedBreak(1 << 20);
            return create(heap);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null;
        }
    }
}

using System.Globalization;
using System.Numerics;
using Lessons.L03_ProgramBreak;
using Lessons.Posix;

namespace Workbook.L03_ProgramBreak;

/// <summary>
/// <c>workbook break-trace</c>: lesson 03's measurement of the real program break, done on this process's MAIN
/// thread (the only one glibc serves from the brk-grown main arena). Prints a table, or JSON lines with --json.
/// </summary>
static class BreakTraceCommand
{
    const string Usage = "usage: workbook break-trace [--count N] [--size BYTES] [--threshold BYTES] [--free-and-retry]\n" +
        "       [--top-pad BYTES] [--trim-threshold BYTES] [--free-all] [--trim] [--on-thread] [--json]";

    public static int Execute(string[] args) => Execute(args, Console.Out, Console.Error);

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = new BreakTraceOptions();
        bool json = false;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--count": options = options with { Count = Number<int>(args[i], Value()) }; break;
                    case "--size": options = options with { Size = Number<long>(args[i], Value()) }; break;
                    case "--threshold": options = options with { Threshold = Number<int>(args[i], Value()) }; break;
                    case "--free-and-retry": options = options with { FreeAndRetry = true }; break;
                    case "--top-pad": options = options with { TopPad = Number<int>(args[i], Value()) }; break;
                    case "--trim-threshold": options = options with { TrimThreshold = Number<int>(args[i], Value()) }; break;
                    case "--free-all": options = options with { FreeAll = true }; break;
                    case "--trim": options = options with { Trim = true }; break;
                    case "--on-thread": options = options with { OnThread = true }; break;
                    case "--json": json = true; break;
                    case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            options.Validate();
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"break-trace: {(e is ArgumentOutOfRangeException r ? r.Message.Split(" (Parameter")[0] : e.Message)}");
            stderr.WriteLine(Usage);
            return 2;
        }

        IReadOnlyList<BreakStep> steps;
        try
        {
            steps = BreakTrace.Run(options);
        }
        catch (Exception e) when (e is PosixException or InvalidOperationException)
        {
            stderr.WriteLine($"break-trace: {e.Message}");
            return 1;
        }
        if (json)
        {
            foreach (var s in steps) stdout.WriteLine(s.ToJson());
            return 0;
        }
        stdout.WriteLine($"main thread: {(steps.Count > 0 && steps[0].MainThread ? "yes" : "no")}");
        stdout.WriteLine(BreakStep.Header);
        foreach (var s in steps) stdout.WriteLine(s);
        return 0;
    }

    static T Number<T>(string option, string text) where T : IBinaryInteger<T> =>
        T.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v : throw new ArgumentException($"{option} needs a whole number, not '{text}'");
}

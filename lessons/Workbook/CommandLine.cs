using System.Globalization;
using System.Numerics;

namespace Workbook;

/// <summary>A bad argument: the message names the option and the value it got. Commands exit 2 with it and the usage.</summary>
sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Option reading shared by the small commands: every bad or missing value is named with the range it must be in,
/// and -h/--help print the usage on stdout with exit 0.
/// </summary>
static class CommandLine
{
    /// <summary>
    /// Runs <paramref name="parse"/> over <paramref name="args"/>, then <paramref name="run"/>: a
    /// <see cref="UsageException"/> from parsing prints "<paramref name="command"/>: message" and the usage on
    /// stderr and gives 2; -h or --help anywhere prints the usage on stdout and gives 0.
    /// </summary>
    public static int Run<T>(string command, string usage, string[] args, Func<Arguments, T> parse, Func<T, int> run,
        TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        if (args.Any(a => a is "-h" or "--help"))
        {
            stdout.WriteLine(usage);
            return 0;
        }
        T options;
        try
        {
            options = parse(new Arguments(args));
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            stderr.WriteLine(usage);
            return 2;
        }
        return run(options);
    }

    /// <summary>The arguments of one command, read left to right.</summary>
    public sealed class Arguments(string[] args)
    {
        int next;

        /// <summary>The next option name, or null at the end.</summary>
        public string? NextOption() => next < args.Length ? args[next++] : null;

        /// <summary>The value after <paramref name="option"/>.</summary>
        public string Value(string option) =>
            next < args.Length ? args[next++] : throw new UsageException($"{option} needs a value");

        /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>] after <paramref name="option"/>.</summary>
        public T Number<T>(string option, T min, T max) where T : IBinaryInteger<T>
        {
            string text = Value(option);
            if (!T.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
                throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"{option} needs a whole number from {min} to {max}, not '{text}'"));
            return value;
        }

        /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>] after <paramref name="option"/>.</summary>
        public double Real(string option, double min, double max)
        {
            string text = Value(option);
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !(value >= min && value <= max))
                throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"{option} needs a number from {min} to {max}, not '{text}'"));
            return value;
        }

        public static UsageException Unknown(string option) => new($"unknown option '{option}'");
    }
}

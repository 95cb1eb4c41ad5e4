using System.Diagnostics;
using System.Globalization;
using Lessons.L09_PosixShm;
using Lessons.Posix;

namespace Workbook.L09_PosixShm;

/// <summary>
/// Lesson 09: <c>workbook shm-producer</c> and <c>workbook shm-consumer</c>, two unrelated processes that meet
/// through a POSIX shared memory object (/dev/shm/NAME) laid out as <see cref="ShmProtocol"/> says.
/// Who unlinks: the CONSUMER. The producer creates the name and, by default, exits right after writing, leaving
/// the object for the consumer. With --hold SECONDS it stays until the consumer has unlinked the name or the time
/// is up; then (or on Ctrl+C / SIGTERM) it unlinks the name itself.
/// </summary>
static class ShmCommands
{
    const string ProducerUsage =
        "usage: workbook shm-producer [--name /NAME] [--size BYTES] [--mode OCTAL] [--hold SECONDS] --message TEXT\n" +
        "  creates /dev/shm/NAME (O_CREAT|O_EXCL, default /workbook-demo, 4096 bytes, mode 0600), writes TEXT, and exits\n" +
        "  leaving the object for shm-consumer, which unlinks it. --hold keeps it until the consumer unlinks it or the\n" +
        "  time is up (then the producer unlinks it).";

    const string ConsumerUsage =
        "usage: workbook shm-consumer [--name /NAME] [--keep]\n" +
        "  opens /dev/shm/NAME read-only (default /workbook-demo), prints the message and unlinks the name (--keep: do not).";

    public static int Producer(string[] args) => Producer(args, Console.Out, Console.Error);

    public static int Consumer(string[] args) => Consumer(args, Console.Out, Console.Error);

    public static int Producer(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (ParseProducer(args, stdout, stderr, out int exit) is not { } options) return exit;
        if (Produce(options, stderr, out exit) is not { } produced) return exit;
        using (produced)
        {
            stdout.WriteLine($"producer {Environment.ProcessId}: wrote {produced.MessageBytes} bytes to {options.Name} " +
                             $"({produced.Size} bytes, {ModeText(produced)})");
            if (options.Hold is not double seconds)
            {
                produced.Disown();
                stdout.WriteLine($"producer: leaving {options.Name} for the consumer, which unlinks it");
                return 0;
            }
            return Hold(produced, options.Name, seconds, stdout);
        }
    }

    /// <summary>The mode the object really has (fstat), and what the umask cleared when that is not what was asked.</summary>
    static string ModeText(ProducedMessage produced) =>
        produced.ActualMode == produced.Mode
            ? $"mode {CFormat.Octal(produced.ActualMode)}"
            : $"mode {CFormat.Octal(produced.ActualMode)}, not the {CFormat.Octal(produced.Mode)} asked for: " +
              $"the umask cleared {CFormat.Octal(produced.Mode & ~produced.ActualMode)}";

    /// <summary>What shm-producer was asked to do.</summary>
    sealed record ProducerOptions(string Name, string Message, long Size, int Mode, double? Hold);

    /// <summary>The options, or null with the exit code when the arguments end the command (--help, a usage error).</summary>
    static ProducerOptions? ParseProducer(string[] args, TextWriter stdout, TextWriter stderr, out int exit)
    {
        string name = "/workbook-demo";
        string? message = null;
        long size = ShmProtocol.DefaultSize;
        int mode = 0x180;
        double? hold = null;
        exit = 0;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--name": name = Value(); break;
                    case "--message": message = Value(); break;
                    case "--size": size = Whole(args[i], Value()); break;
                    case "--mode": mode = Octal(args[i], Value()); break;
                    case "--hold": hold = Seconds(args[i], Value()); break;
                    case "-h" or "--help": stdout.WriteLine(ProducerUsage); return null;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            if (message is null) throw new ArgumentException("--message is required");
            PosixShm.ValidateName(name);
            return new ProducerOptions(name, message, size, mode, hold);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"shm-producer: {Clean(e)}");
            stderr.WriteLine(ProducerUsage);
            exit = 2;
            return null;
        }
    }

    /// <summary>Creates the object and writes the message; null with the exit code when that fails.</summary>
    static ProducedMessage? Produce(ProducerOptions options, TextWriter stderr, out int exit)
    {
        string name = options.Name;
        exit = 0;
        try
        {
            return ShmExchange.Produce(name, options.Message, options.Size, options.Mode);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"shm-producer: {Clean(e)}");
            exit = 2;
        }
        catch (PosixException e) when (e.Errno == Errno.EEXIST)
        {
            // The name is valid (checked when parsing); say what has it.
            string what = PosixShm.StatusOfName(name) is { IsRegularFile: false } other
                ? $"{ShmDemo.DevShm}{name} exists and is a {other.TypeName}, not a shared memory object: pick another --name"
                : $"{ShmDemo.DevShm}{name} already exists: consume it first (workbook shm-consumer --name {name}) or pick another --name";
            stderr.WriteLine($"shm-producer: {e.Message} — {what}");
            exit = 1;
        }
        catch (PosixException e)
        {
            stderr.WriteLine($"shm-producer: {e.Message}");
            exit = 1;
        }
        return null;
    }

    /// <summary>
    /// --hold: waits while the name still refers to our object (same st_dev and st_ino). Exit 0 when the name was
    /// unlinked or the time is up (then disposing unlinks it); 1 when the name now refers to another object (left alone).
    /// </summary>
    static int Hold(ProducedMessage produced, string name, double seconds, TextWriter stdout)
    {
        stdout.WriteLine($"producer: holding {name} (inode {produced.Owner.Identity.Inode}) for up to {seconds:0.###} s");
        stdout.Flush();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (state, now) = produced.Owner.Check();
            if (state != NameState.Ours)
            {
                produced.Disown(); // nothing of ours to unlink under that name any more
                return Lost(produced, name, state, now, stdout);
            }
            if (clock.Elapsed.TotalSeconds >= seconds) break;
            Thread.Sleep(20);
        }
        stdout.WriteLine($"producer: nobody consumed {name} in {seconds:0.###} s: unlinking it");
        return 0;
    }

    /// <summary>Says what became of our object's name: removed (by a consumer or anyone) or taken by another object.</summary>
    static int Lost(ProducedMessage produced, string name, NameState state, FileStatus? now, TextWriter stdout)
    {
        var ours = produced.Fd.Status();
        if (state == NameState.Replaced)
        {
            stdout.WriteLine($"producer: {name} now refers to another object (inode {now?.Inode}, ours is inode {ours.Inode}): " +
                             "someone unlinked ours and created the name again; leaving theirs alone");
            return 1;
        }
        stdout.WriteLine(ours.Links == 0
            ? $"producer: {name} was unlinked (a consumer unlinks it after reading; whether one read it, the name cannot tell)"
            : $"producer: {name} was removed, but our object still has {ours.Links} other name(s) (renamed or linked elsewhere)");
        return 0;
    }

    public static int Consumer(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string name = "/workbook-demo";
        bool keep = false;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--name": name = Value(); break;
                    case "--keep": keep = true; break;
                    case "-h" or "--help": stdout.WriteLine(ConsumerUsage); return 0;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }
            PosixShm.ValidateName(name);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"shm-consumer: {Clean(e)}");
            stderr.WriteLine(ConsumerUsage);
            return 2;
        }

        try
        {
            var got = ShmExchange.Consume(name, unlink: !keep);
            stdout.WriteLine($"consumer {Environment.ProcessId}: {name} has {got.Size} bytes; the message is:");
            stdout.WriteLine(got.Message);
            stdout.WriteLine(got.Unlinked ? $"consumer: unlinked {name}"
                : got.NotUnlinkedReason is { } why ? $"consumer: did not unlink {name}: {why}"
                : $"consumer: left {name} in place (--keep)");
            return 0;
        }
        catch (PosixException e)
        {
            stderr.WriteLine($"shm-consumer: {e.Message}");
            return 1;
        }
        catch (InvalidDataException e)
        {
            stderr.WriteLine($"shm-consumer: {e.Message}");
            return 1;
        }
    }

    static string Clean(ArgumentException e) => e.Message.Split(" (Parameter")[0];

    static long Whole(string option, string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v : throw new ArgumentException($"{option} needs a whole number, not '{text}'");

    static int Octal(string option, string text)
    {
        try
        {
            int v = Convert.ToInt32(text, 8);
            if (v is >= 0 and <= 0x1ff && text.Length <= 4) return v;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException) { }
        throw new ArgumentException($"{option} needs octal permission bits such as 0600 or 644, not '{text}'");
    }

    static double Seconds(string option, string text) =>
        double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && v is >= 0 and <= 3600
            ? v : throw new ArgumentException($"{option} needs seconds from 0 to 3600, not '{text}'");
}

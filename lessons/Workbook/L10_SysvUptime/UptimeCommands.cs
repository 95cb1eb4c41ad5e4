using System.Globalization;
using System.Runtime.InteropServices;
using Lessons.L10_SysvUptime;
using Lessons.Posix;

namespace Workbook.L10_SysvUptime;

/// <summary>
/// Lesson 10's System V up-time server and client, as the course's two-terminal demonstration:
/// <c>uptime-server</c>, <c>uptime-client</c>, <c>uptime-status</c> and the <c>uptime-load</c> check.
/// </summary>
static class UptimeCommands
{
    const string ServerUsage = "usage: workbook uptime-server [--key 0x666] [--size 256] [--mode 0600] [--ticks N] [--interval-ms 1000]";
    const string ClientUsage = "usage: workbook uptime-client [--key 0x666] [--count N] [--interval-ms 1000]";
    const string StatusUsage = "usage: workbook uptime-status [--key 0x666]";
    const string LoadUsage = "usage: workbook uptime-load [--clients 50 (1 to 100)] [--seconds 10] [--key K] [--no-seqlock]   (default: a private segment)";

    sealed class Options
    {
        public int Key = UptimeLayout.DefaultKey;
        public long Size = UptimeLayout.DefaultSize;
        public int Mode = UptimeLayout.DefaultMode;
        public long? Ticks;
        public long? Count;
        public int IntervalMs = 1000;
        public int Clients = 50;
        public int Seconds = 10;
        public bool NoSeqlock;
    }

    // Parses the options a command accepts; null (after printing the error and usage) on bad input.
    static Options? Parse(string name, string usage, string[] args, string accepted, TextWriter stdout, TextWriter stderr, out int exit)
    {
        var o = new Options();
        exit = 0;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string option = args[i];
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{option} needs a value");
                if (option is "-h" or "--help") { stdout.WriteLine(usage); return null; }
                if (!accepted.Split(' ').Contains(option)) throw new ArgumentException($"unknown option '{option}'");
                switch (option)
                {
                    case "--key": o.Key = (int)Number(option, Value(), 16, 1, uint.MaxValue); break;
                    case "--size": o.Size = Number(option, Value(), 10, UptimeLayout.MinimumSize, 1L << 30); break;
                    case "--mode": o.Mode = (int)Number(option, Value(), 8, 0, 0x1ff); break;
                    case "--ticks": o.Ticks = Number(option, Value(), 10, 0, long.MaxValue); break;
                    case "--count": o.Count = Number(option, Value(), 10, 1, long.MaxValue); break;
                    case "--interval-ms": o.IntervalMs = (int)Number(option, Value(), 10, 1, 3_600_000); break;
                    case "--clients": o.Clients = (int)Number(option, Value(), 10, 1, UptimeLoad.MaxClients); break;
                    case "--seconds": o.Seconds = (int)Number(option, Value(), 10, 1, 3600); break;
                    case "--no-seqlock": o.NoSeqlock = true; break;
                }
            }
            return o;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"{name}: {e.Message}");
            stderr.WriteLine(usage);
            exit = 2;
            return null;
        }
    }

    // A whole number; --key accepts 0x hex or decimal, --mode octal (0600 or 600).
    static long Number(string option, string text, int radix, long min, long max)
    {
        long v;
        try
        {
            v = radix == 16 && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(text[2..], 16)
                : radix == 8 ? Convert.ToInt64(text, 8)
                : long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new ArgumentException($"{option} needs a {(radix == 8 ? "octal " : radix == 16 ? "hex (0x…) or decimal " : "whole ")}number, not '{text}'");
        }
        if (v < min || v > max) throw new ArgumentException($"{option} must be between {min} and {max}, not {text}");
        return v;
    }

    public static int Server(string[] args) => Server(args, Console.Out, Console.Error);

    public static int Server(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = Parse("uptime-server", ServerUsage, args, "--key --size --mode --ticks --interval-ms", stdout, stderr, out int exit);
        if (o is null) return exit;
        UptimeServer server;
        try { server = UptimeServer.Open(o.Key, o.Size, o.Mode); }
        catch (Exception e) when (e is PosixException or InvalidOperationException)
        {
            stderr.WriteLine($"uptime-server: {e.Message}");
            return 1;
        }
        // SIGINT (Ctrl+C), SIGTERM and SIGHUP (a closed terminal) end the loop (a second one ends the process at once; ProcessCleanup still removes the segment).
        using var stop = new ManualResetEventSlim();
        string? stoppedBy = null;
        using var graceful = ProcessCleanup.StopGracefully(signal => // no abrupt exit: leave the loop, detach, remove, exit 0
        {
            stoppedBy = signal switch { PosixSignal.SIGINT => "SIGINT", PosixSignal.SIGHUP => "SIGHUP", _ => "SIGTERM" };
            stop.Set();
        });
        using (server)
        {
            stdout.WriteLine($"uptime-server: pid {Environment.ProcessId}: {server.Message}; segment id {server.Id}");
            stdout.Flush();
            var interval = TimeSpan.FromMilliseconds(o.IntervalMs);
            for (long tick = 0; (o.Ticks is null || tick < o.Ticks) && !stop.IsSet; tick++)
            {
                server.Tick();
                // Wait until tick+1 intervals after the start, so ticks do not drift. Waits round to whole milliseconds
                // and may end a little early: wait again until the time is reached, so tick n writes an up-time of at
                // least n intervals (as the C server's counter does).
                TimeSpan wait;
                while ((wait = (tick + 1) * interval - server.Uptime) > TimeSpan.Zero && !stop.IsSet)
                    stop.Wait(TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)));
            }
            if (stoppedBy is null) server.Tick();
            stdout.WriteLine(stoppedBy is null
                ? $"uptime-server: done after {o.Ticks} ticks; detaching and removing the segment"
                : $"uptime-server: {stoppedBy}: detaching and removing the segment");
            stdout.Flush();
        }
        return 0;
    }

    public static int Client(string[] args) => Client(args, Console.Out, Console.Error);

    public static int Client(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = Parse("uptime-client", ClientUsage, args, "--key --count --interval-ms", stdout, stderr, out int exit);
        if (o is null) return exit;
        UptimeClient? client;
        try { client = UptimeClient.TryOpen(o.Key); }
        catch (Exception e) when (e is PosixException or InvalidOperationException)
        {
            stderr.WriteLine($"uptime-client: {e.Message}");
            return 1;
        }
        if (client is null)
        {
            stderr.WriteLine($"uptime-client: no segment has key {CFormat.Hex(o.Key)} (shmget: ENOENT): is the server running? Start it with: workbook uptime-server --key {CFormat.Hex(o.Key)}");
            return 1;
        }
        using (client)
        {
            for (long n = 0; o.Count is null || n < o.Count; n++)
            {
                if (n > 0) Thread.Sleep(o.IntervalMs);
                if (client.State() == ServerState.Gone)
                {
                    stdout.WriteLine($"uptime-client: the server (pid {client.ServerPid}) went away: the segment was removed or the server died; stopping");
                    return 0;
                }
                var reading = client.Read();
                if (reading is null)
                {
                    stdout.WriteLine("uptime-client: the sequence counter stayed odd: the server stopped in the middle of a write; stopping");
                    return 0;
                }
                stdout.WriteLine(reading);
                stdout.Flush();
            }
        }
        return 0;
    }

    public static int Load(string[] args) => Load(args, Console.Out, Console.Error);

    public static int Load(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = Parse("uptime-load", LoadUsage, args, "--clients --seconds --key --no-seqlock", stdout, stderr, out int exit);
        if (o is null) return exit;
        bool keyGiven = args.Contains("--key");
        stdout.WriteLine($"uptime-load: 1 server thread writing as fast as it can, {o.Clients} client threads each attached on its own, {o.Seconds} s ...");
        stdout.Flush();
        try
        {
            if (!keyGiven)
                foreach (string line in UptimeServer.ReclaimOrphanedPrivate())
                    stdout.WriteLine($"uptime-load: {line}");
            var result = UptimeLoad.Run(o.Clients, TimeSpan.FromSeconds(o.Seconds), seqlock: !o.NoSeqlock, key: keyGiven ? o.Key : null);
            stdout.WriteLine(result);
            return result.Loaded && (result.AllConsistent || o.NoSeqlock) ? 0 : 1;
        }
        catch (Exception e) when (e is PosixException or InvalidOperationException)
        {
            stderr.WriteLine($"uptime-load: {e.Message}");
            return 1;
        }
    }

    public static int Status(string[] args) => Status(args, Console.Out, Console.Error);

    public static int Status(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var o = Parse("uptime-status", StatusUsage, args, "--key", stdout, stderr, out int exit);
        if (o is null) return exit;
        try
        {
            int id = SysVShm.Get(o.Key, 0);
            var st = SysVShm.Stat(id);
            stdout.WriteLine($"key          {CFormat.Hex(st.Key)}");
            stdout.WriteLine($"id           {st.Id}");
            stdout.WriteLine($"size         {st.Size}");
            stdout.WriteLine($"mode         {CFormat.Octal(st.Mode)}");
            stdout.WriteLine($"owner uid    {st.OwnerUid}");
            stdout.WriteLine($"creator pid  {st.CreatorPid} ({(Signals.IsAlive(st.CreatorPid) ? "alive" : "dead")})");
            int server = UptimeServer.ServerPidOf(id, st);
            stdout.WriteLine($"server pid   {server} ({(Signals.IsAlive(server) ? "alive" : "dead")})");
            stdout.WriteLine($"last pid     {st.LastPid}");
            stdout.WriteLine($"attached     {st.Attachments}");
            stdout.WriteLine($"last attach  {st.LastAttach?.ToString("HH:mm:ss") ?? "never"}");
            stdout.WriteLine($"last detach  {st.LastDetach?.ToString("HH:mm:ss") ?? "never"}");
            stdout.WriteLine($"last change  {st.LastChange:HH:mm:ss}");
            return 0;
        }
        catch (PosixException e) when (e.Errno == Errno.ENOENT)
        {
            stderr.WriteLine($"uptime-status: no segment has key {CFormat.Hex(o.Key)} (shmget: ENOENT)");
            return 1;
        }
        catch (PosixException e)
        {
            stderr.WriteLine($"uptime-status: {e.Message}");
            return 1;
        }
    }
}

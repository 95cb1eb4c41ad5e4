using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lessons.Posix;

namespace Workbook.Notebooks;

/// <summary>What running one notebook came to: code cells run, errors (false claims included), time.</summary>
sealed record NotebookOutcome(int CellsRun, int Errors, TimeSpan Elapsed);

/// <summary>
/// Runs each notebook in a child process of this CLI (<c>run NOTEBOOK --report FILE</c>) that leads its own process group,
/// and supervises it: whatever a cell does (Environment.Exit, FailFast, a stack overflow, an exception on another thread,
/// a raw fork, a cell that never ends), the notebook is reported, its executed copy written, and nothing it started
/// outlives it. The child tells its progress and its report through two files; its stdout and stderr come back here.
/// </summary>
static class NotebookProcess
{
    public const string ReportOption = "--report";

    /// <summary>The child's first lines of stdout and stderr kept to explain a crash ("Stack overflow.", the exception).</summary>
    const int HeadLines = 12;

    /// <summary>How long a process group that was sent SIGTERM gets to clean up before SIGKILL.</summary>
    static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    /// <summary>Runs <paramref name="notebook"/> in a child; prints its line and its errors as the in-process run did.</summary>
    public static NotebookOutcome Run(
        string notebook, string outDir, TimeSpan timeout, TextWriter stdout, TextWriter stderr, Supervisor supervisor)
    {
        var name = Path.GetFileName(notebook);
        var target = Path.Combine(outDir, name);
        int codeCells;
        try
        {
            codeCells = NotebookFile.Load(notebook)["cells"]!.AsArray().Count(c => (string?)c!["cell_type"] == "code");
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or UnauthorizedAccessException)
        {
            stdout.WriteLine($"{name}  not run");
            stderr.WriteLine($"{name}: cannot read the notebook: {e.Message}");
            return new NotebookOutcome(0, 1, TimeSpan.Zero);
        }

        var work = Directory.CreateTempSubdirectory("workbook-run-");
        try
        {
            var report = Path.Combine(work.FullName, "report.json");
            var start = WriteXorExecute.StartSelf(
                ["run", notebook, "--out", outDir, "--timeout", timeout.TotalSeconds.ToString("R", CultureInfo.InvariantCulture), ReportOption, report]);
            start.Environment[Fork.WriteXorExecuteVariable] = "0";
            start.Environment[WriteXorExecute.TieredPgoVariable] = Environment.GetEnvironmentVariable(WriteXorExecute.TieredPgoVariable) ?? "0";
            start.RedirectStandardInput = true;
            start.RedirectStandardOutput = true;
            start.RedirectStandardError = true;

            var clock = Stopwatch.StartNew();
            using var child = Process.Start(start)!;
            child.StandardInput.Close(); // a cell waiting for input reads end of file
            var (output, errors) = (new Head(), new Head());
            var pumps = new[] { output.PumpAsync(child.StandardOutput), errors.PumpAsync(child.StandardError) };
            supervisor.Started(child.Id);
            // Every cell may take its timeout; the kernel's start and the report get a minute.
            var deadline = timeout * (codeCells + 1) + TimeSpan.FromMinutes(1);
            var overran = !supervisor.WaitForExit(child, deadline);
            supervisor.Ended(child.Id);
            // A raw fork() in a cell left a copy of the runner holding the pipes: the group goes with its leader.
            KillGroup(child.Id, Signal.SIGKILL);
            Task.WaitAll(pumps, TimeSpan.FromSeconds(5));

            if (!overran && ReadReport(report) is { } done)
            {
                stdout.Write(done.Stdout);
                stderr.Write(done.Stderr);
                return new NotebookOutcome(done.CellsRun, done.Errors, done.Elapsed);
            }
            return Crashed(name, notebook, target, report, child, overran ? deadline : null, clock.Elapsed, output, errors, stdout, stderr);
        }
        finally
        {
            try { work.Delete(recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>The notebook's process ended without its report: say how and during which cell, in the executed copy too.</summary>
    static NotebookOutcome Crashed(string name, string notebook, string target, string report, Process child, TimeSpan? overran,
        TimeSpan elapsed, Head output, Head errors, TextWriter stdout, TextWriter stderr)
    {
        var cell = int.TryParse(ReadOrNull(Progress(report)), out var n) ? n : 0;
        var how = overran is { } limit
            ? $"did not finish within {limit.TotalSeconds:0} s (every cell's timeout and a minute); its process group was stopped"
            : $"its process ended {Exit(child.ExitCode)} before the notebook finished";
        var message = cell > 0 ? $"cell {cell}: {how}" : $"before its first cell: {how}";
        var tail = errors.Lines.Concat(output.Lines).ToList();
        JsonObject executed;
        try { executed = NotebookFile.Load(File.Exists(target) && cell > 0 ? target : notebook); }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or UnauthorizedAccessException) { executed = NotebookFile.Load(notebook); }
        var codeCells = executed["cells"]!.AsArray().OfType<JsonObject>().Where(c => (string?)c["cell_type"] == "code").ToList();
        if (cell > 0 && cell <= codeCells.Count)
        {
            codeCells[cell - 1]["execution_count"] = cell;
            codeCells[cell - 1]["outputs"] = new JsonArray(new JsonObject
            {
                ["ename"] = "NotebookProcessEnded",
                ["evalue"] = message,
                ["output_type"] = "error",
                ["traceback"] = new JsonArray([.. new[] { message }.Concat(tail).Select(line => JsonValue.Create(line))]),
            });
        }
        NotebookFile.Save(executed, target);
        var notRun = Math.Max(0, codeCells.Count - Math.Max(cell, 0));
        stdout.WriteLine($"{name}  {RunCommand.Count(cell, "cell")}  1 error  {elapsed.TotalSeconds:0.0} s  "
                         + $"stopped at cell {cell}, {RunCommand.Count(notRun, "cell")} not run  -> {RunCommand.Shown(target)}");
        stderr.WriteLine($"{name}: {message}");
        foreach (var line in tail)
            stderr.WriteLine($"{name}:   {line}");
        return new NotebookOutcome(cell, 1, elapsed);
    }

    static string Exit(int code) => code switch
    {
        0 => "with exit code 0 (a cell called Environment.Exit?)",
        > 128 and < 128 + 65 => $"by signal {code - 128}{SignalName(code - 128)}",
        _ => $"with exit code {code} (a cell called Environment.Exit?)",
    };

    static string SignalName(int signal) => Enum.IsDefined((Signal)signal)
        ? $" ({(Signal)signal}{((Signal)signal == Signal.SIGABRT ? ": a stack overflow, Environment.FailFast or an unhandled exception" : "")})"
        : "";

    // ---- in the child ----

    /// <summary>
    /// In the child: runs the notebook, saving the executed copy so far and the cell's number before each cell, then the
    /// report. Leads its own process group first, so that the supervisor can stop all it started.
    /// </summary>
    public static int RunAsChild(string notebook, string outDir, TimeSpan timeout, string report)
    {
        Signals.LeadNewProcessGroup();
        StopGroupWhenOrphaned(Signals.ParentPid);
        var target = Path.Combine(outDir, Path.GetFileName(notebook));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var outcome = RunCommand.RunOne(notebook, outDir, timeout, stdout, stderr, (cell, executed) =>
        {
            NotebookFile.Save(executed, target);
            File.WriteAllText(Progress(report), cell.ToString(CultureInfo.InvariantCulture));
        });
        var json = new JsonObject
        {
            ["cells"] = outcome.CellsRun,
            ["errors"] = outcome.Errors,
            ["seconds"] = outcome.Elapsed.TotalSeconds,
            ["stdout"] = stdout.ToString(),
            ["stderr"] = stderr.ToString(),
        };
        File.WriteAllText(report + ".tmp", json.ToJsonString());
        File.Move(report + ".tmp", report, overwrite: true);
        return 0;
    }

    static string Progress(string report) => report + ".cell";

    /// <summary>
    /// If the supervisor dies (even by SIGKILL), nobody will stop this process group, so it stops itself: this process's
    /// clean-ups, SIGKILL to the copies a raw fork() in a cell made (the same command line as this process: they run no
    /// signal handler), SIGTERM to the rest of the group (a CLI a cell started cleans up), and SIGKILL to what is left
    /// after <see cref="OrphanGrace"/>. The kernel's parent-death SIGTERM starts this; a thread that checks the parent
    /// every 100 ms is the backstop.
    /// </summary>
    static void StopGroupWhenOrphaned(int supervisor)
    {
        orphanSignal = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
        {
            // The signal comes when the supervisor's thread that started this process ends, before its last thread
            // does: only then does getppid() change (seen in 1 of 4 runs under load). A living supervisor's SIGTERM
            // (it stops the group itself afterwards) costs this wait.
            var clock = Stopwatch.StartNew();
            while (Signals.ParentPid == supervisor && clock.Elapsed < ParentExit) Thread.Sleep(5);
            if (Signals.ParentPid != supervisor) StopOrphanedGroup();
        });
        new Thread(() =>
        {
            while (Signals.ParentPid == supervisor) Thread.Sleep(100);
            StopOrphanedGroup();
            KillGroup(Environment.ProcessId, Signal.SIGKILL);
        })
        { IsBackground = true, Name = "orphan watch" }.Start();
    }

    static PosixSignalRegistration? orphanSignal;

    /// <summary>How long a SIGTERM waits for the supervisor to be gone.</summary>
    static readonly TimeSpan ParentExit = TimeSpan.FromSeconds(1);

    static void StopOrphanedGroup()
    {
        ProcessCleanup.RunAll();
        StopRestOfGroup();
    }

    static readonly TimeSpan OrphanGrace = TimeSpan.FromSeconds(3);

    static void StopRestOfGroup()
    {
        int self = Environment.ProcessId;
        var ownCommand = CommandLine(self);
        IEnumerable<int> Others() => Signals.GroupMembers(self).Where(pid => pid != self);
        static void Send(int pid, Signal signal)
        {
            try { Signals.Kill(pid, signal); }
            catch (PosixException) { } // ended meanwhile
        }
        foreach (var pid in Others())
            Send(pid, CommandLine(pid) == ownCommand ? Signal.SIGKILL : Signal.SIGTERM);
        var clock = Stopwatch.StartNew();
        while (Others().Any() && clock.Elapsed < OrphanGrace) Thread.Sleep(20);
        foreach (var pid in Others()) Send(pid, Signal.SIGKILL);
    }

    static string? CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    sealed record Report(int CellsRun, int Errors, TimeSpan Elapsed, string Stdout, string Stderr);

    static Report? ReadReport(string path)
    {
        try
        {
            if (ReadOrNull(path) is not { } text || JsonNode.Parse(text) is not JsonObject json) return null;
            return new Report((int)json["cells"]!, (int)json["errors"]!, TimeSpan.FromSeconds((double)json["seconds"]!),
                (string)json["stdout"]!, (string)json["stderr"]!);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            return null;
        }
    }

    static string? ReadOrNull(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
    }

    /// <summary>Signals the group, or only its leader while it has not made its group yet (once each: a second SIGINT
    /// reached a notebook's process while its clean-up ran).</summary>
    internal static void KillGroup(int pgid, Signal signal)
    {
        try
        {
            if (!Signals.KillGroup(pgid, signal))
                Signals.Kill(pgid, signal);
        }
        catch (PosixException) { } // ESRCH, EPERM: nothing of ours is left
    }

    /// <summary>The first lines of a stream, read to its end with bounded memory.</summary>
    sealed class Head
    {
        readonly List<string> _lines = [];
        long _dropped;

        public IEnumerable<string> Lines
        {
            get
            {
                lock (_lines)
                    return _dropped > 0 ? [.. _lines, $"({_dropped:N0} more lines not shown)"] : [.. _lines];
            }
        }

        public async Task PumpAsync(StreamReader reader)
        {
            var buffer = new char[4096];
            var line = new StringBuilder();
            int read;
            while ((read = await reader.ReadAsync(buffer)) > 0)
            {
                foreach (var c in buffer.AsSpan(0, read))
                {
                    if (c == '\n') { Add(line.ToString()); line.Clear(); }
                    else if (line.Length < 1000) line.Append(c);
                }
            }
            if (line.Length > 0) Add(line.ToString());
        }

        void Add(string line)
        {
            lock (_lines)
            {
                if (_lines.Count < HeadLines) _lines.Add(line.TrimEnd('\r'));
                else _dropped++;
            }
        }
    }

    /// <summary>
    /// Passes the run's SIGINT, SIGTERM and SIGHUP on to the running notebook's process group (which cleans up and ends),
    /// and remembers that the run was stopped; a second signal, a second or more later, kills the group at once (the same
    /// signal often arrives twice: Ctrl+C reaches the CLI and its restarted child, which also passes it on). A notebook's process also gets
    /// SIGTERM from the kernel if this one dies (<see cref="WriteXorExecute.TieWorkerToParent"/>).
    /// </summary>
    public sealed class Supervisor : IDisposable
    {
        readonly List<PosixSignalRegistration> _registrations = [];
        int _child;
        long _firstSignal;

        public Supervisor()
        {
            foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
                _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
        }

        /// <summary>The signal that stopped the run, if one did.</summary>
        public PosixSignal? StoppedBy { get; private set; }

        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            StoppedBy ??= context.Signal;
            var first = Interlocked.CompareExchange(ref _firstSignal, Stopwatch.GetTimestamp(), 0);
            if (first != 0 && Stopwatch.GetElapsedTime(first) < ProcessCleanup.SameStop) return;
            var signal = first != 0 ? Signal.SIGKILL
                : context.Signal switch { PosixSignal.SIGINT => Signal.SIGINT, PosixSignal.SIGHUP => Signal.SIGHUP, _ => Signal.SIGTERM };
            if (Volatile.Read(ref _child) is > 1 and var child)
                KillGroup(child, signal);
        }

        public void Started(int pid)
        {
            Volatile.Write(ref _child, pid);
            if (StoppedBy is not null) KillGroup(pid, Signal.SIGTERM); // stopped while it started
        }

        public void Ended(int pid) => Interlocked.CompareExchange(ref _child, 0, pid);

        /// <summary>Waits for the child; past the deadline its group gets SIGTERM, then SIGKILL. False if it overran.</summary>
        public bool WaitForExit(Process child, TimeSpan deadline)
        {
            if (child.WaitForExit(deadline)) return true;
            KillGroup(child.Id, Signal.SIGTERM);
            if (!child.WaitForExit(Grace)) KillGroup(child.Id, Signal.SIGKILL);
            child.WaitForExit(Grace);
            return false;
        }

        public void Dispose()
        {
            foreach (var registration in _registrations) registration.Dispose();
        }
    }
}

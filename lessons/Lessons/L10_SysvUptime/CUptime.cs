using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// The course's C up-time server and client, written again for the workbook (the same calls and the same layout: the
/// text <c>HH:MM:SS</c> and a NUL at offset 0), compiled with gcc. Unlike the lecture's listing, the server takes its key,
/// tick count and interval from the command line, creates with IPC_CREAT|IPC_EXCL|0600, and on SIGTERM/SIGINT or after
/// its ticks detaches and removes its segment; the client attaches read-only and detaches at the end.
/// Dispose deletes the compiled programs.
/// </summary>
public sealed class CUptime : IDisposable
{
    /// <summary>The server: shmget(IPC_CREAT|IPC_EXCL|0600), shmat, sprintf at offset 0 per tick, then shmdt and IPC_RMID.</summary>
    public const string ServerSource = """
        #include <errno.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <time.h>
        #include <unistd.h>
        #include <sys/ipc.h>
        #include <sys/shm.h>

        static volatile sig_atomic_t stop = 0;
        static void on_signal(int sig) { (void)sig; stop = 1; }

        int main(int argc, char *argv[]) {
            key_t key = argc > 1 ? (key_t)strtoul(argv[1], NULL, 0) : 0x666;
            long ticks = argc > 2 ? atol(argv[2]) : -1;          /* -1: until a signal */
            long interval_ms = argc > 3 ? atol(argv[3]) : 1000;
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_signal;                           /* no SA_RESTART: the signal ends the sleep */
            sigaction(SIGTERM, &sa, NULL);
            sigaction(SIGINT, &sa, NULL);

            int shmid = shmget(key, 256, IPC_CREAT | IPC_EXCL | 0600);
            if (shmid == -1) { perror("shmget() failed"); return EXIT_FAILURE; }
            char *shm = shmat(shmid, NULL, 0);
            if (shm == (char *)-1) {                             /* shmat fails with (void *) -1, not NULL */
                perror("shmat() failed");
                shmctl(shmid, IPC_RMID, NULL);
                return EXIT_FAILURE;
            }
            printf("c-server: pid %d, key 0x%x, segment id %d\n", (int)getpid(), (unsigned)key, shmid);
            fflush(stdout);
            struct timespec pause = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
            for (long timer = 0; !stop && (ticks < 0 || timer < ticks); ++timer) {
                sprintf(shm, "%02ld:%02ld:%02ld", (timer / 3600) % 24, (timer / 60) % 60, timer % 60);
                nanosleep(&pause, NULL);
            }
            shmdt(shm);
            shmctl(shmid, IPC_RMID, NULL);
            printf("c-server: %s: detached and removed segment %d\n", stop ? "signal" : "done", shmid);
            return EXIT_SUCCESS;
        }
        """;

    /// <summary>The client: shmget(key, 0, 0), shmat(SHM_RDONLY), printf("Timer is : [%s]") per tick, shmdt.</summary>
    public const string ClientSource = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <time.h>
        #include <sys/ipc.h>
        #include <sys/shm.h>

        int main(int argc, char *argv[]) {
            key_t key = argc > 1 ? (key_t)strtoul(argv[1], NULL, 0) : 0x666;
            long count = argc > 2 ? atol(argv[2]) : 3;
            long interval_ms = argc > 3 ? atol(argv[3]) : 1000;
            int shmid = shmget(key, 0, 0);
            if (shmid == -1) { perror("shmget() failed"); return EXIT_FAILURE; }
            char *shm = shmat(shmid, NULL, SHM_RDONLY);
            if (shm == (char *)-1) { perror("shmat() failed"); return EXIT_FAILURE; }
            struct timespec pause = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
            for (long n = 0; n < count; n++) {
                if (n > 0) nanosleep(&pause, NULL);
                printf("Timer is : [%s]\n", shm);
            }
            shmdt(shm);
            return EXIT_SUCCESS;
        }
        """;

    readonly string dir;

    CUptime(string dir, string server, string client)
    {
        this.dir = dir;
        ServerPath = server;
        ClientPath = client;
    }

    public string ServerPath { get; }
    public string ClientPath { get; }

    /// <summary>gcc on PATH, or null.</summary>
    public static string? Gcc => CPrograms.FindTool("gcc");

    /// <summary>Compiles both programs; null, with <paramref name="missing"/> saying why, when gcc is missing or fails.</summary>
    public static CUptime? Compile(out string? missing)
    {
        missing = null;
        string? gcc = Gcc;
        if (gcc is null) { missing = "gcc is not installed on this machine (Debian: apt-get install gcc): the C programs cannot run here"; return null; }
        string dir = Directory.CreateTempSubdirectory("workbook-c-uptime-").FullName;
        foreach (var (name, source) in new[] { ("shm_srv", ServerSource), ("shm_cli", ClientSource) })
        {
            File.WriteAllText(Path.Combine(dir, name + ".c"), source);
            var (code, _, err) = CPrograms.Exec(gcc, ["-O0", "-Wall", "-o", Path.Combine(dir, name), Path.Combine(dir, name + ".c")], TimeSpan.FromSeconds(60));
            if (code != 0)
            {
                Directory.Delete(dir, recursive: true);
                missing = $"gcc failed on {name}.c: {err.Trim()}";
                return null;
            }
        }
        return new CUptime(dir, Path.Combine(dir, "shm_srv"), Path.Combine(dir, "shm_cli"));
    }

    /// <summary>Starts the C server at <paramref name="key"/> and waits until its segment exists.</summary>
    public CServerProcess StartServer(int key, long ticks = -1, int intervalMs = 1000) =>
        new(key, ServerPath, [CFormat.Hex(key), ticks.ToString(System.Globalization.CultureInfo.InvariantCulture), intervalMs.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

    /// <summary>Runs the C client <paramref name="count"/> times <paramref name="intervalMs"/> apart; its output and exit code.</summary>
    public (int ExitCode, string Output) RunClient(int key, int count = 2, int intervalMs = 1000)
    {
        var (code, stdout, stderr) = CPrograms.Exec(ClientPath, [CFormat.Hex(key), $"{count}", $"{intervalMs}"], TimeSpan.FromSeconds(30 + count * intervalMs / 1000.0));
        return (code, (stdout + (stderr.Length > 0 ? "stderr: " + stderr : "")).TrimEnd());
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>
/// The running C server. Stop sends SIGTERM (it detaches and removes its segment). Dispose stops it if it still runs;
/// if it does not end, it is killed and its segment removed here, so no path leaves a segment or a process behind.
/// </summary>
public sealed class CServerProcess : IDisposable
{
    readonly Process process;
    readonly Action cleanup;
    readonly Task<string> stdout, stderr;

    internal CServerProcess(int key, string path, string[] args)
    {
        Key = key;
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {path}");
        cleanup = () => Dispose();
        ProcessCleanup.Register(cleanup);
        stdout = process.StandardOutput.ReadToEndAsync();
        stderr = process.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!UptimeProcesses.SegmentExists(key))
        {
            if (process.HasExited || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                Dispose();
                throw new InvalidOperationException($"the C server did not create key {CFormat.Hex(key)}: {Output}");
            }
            Thread.Sleep(10);
        }
    }

    public int Key { get; }
    public int Pid => process.Id;

    /// <summary>Everything the server printed (complete once it has exited).</summary>
    public string Output => process.HasExited ? (stdout.Result + (stderr.Result.Length > 0 ? "stderr: " + stderr.Result : "")).TrimEnd() : "(still running)";

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public int Stop()
    {
        if (!process.HasExited) Signals.Kill(process.Id, Signal.SIGTERM);
        if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
        {
            process.Kill();
            process.WaitForExit();
        }
        process.WaitForExit();
        return process.ExitCode;
    }

    public void Dispose()
    {
        ProcessCleanup.Unregister(cleanup);
        try { Stop(); }
        catch (InvalidOperationException) { }
        // A server killed before its clean-up ran leaves its segment: remove it if its creator is dead.
        var st = UptimeProcesses.Status(Key);
        if (st is not null && st.CreatorPid == process.Id)
        {
            try { SysVShm.Remove(st.Id); }
            catch (PosixException) { }
        }
        process.Dispose();
    }
}

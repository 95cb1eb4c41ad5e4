using System.Globalization;

namespace Lessons.L08_ForkSharedMappings;

/// <summary>What the C fork loop gave: forks done, seconds, and the C process's own RssAnon while it forked.</summary>
public sealed record CForkLoopRun(long BytesTouched, int Forks, double Seconds, long RssAnonKiB)
{
    public double ForksPerSecond => Forks / Seconds;
}

/// <summary>
/// How fast <see cref="ForkSafety.Stress"/> forks, against C in the same run (lesson 08, step 5): fork's cost grows with
/// the resident anonymous pages (fork copies their page tables and marks them copy-on-write), so the fair C loop is one
/// whose process first maps and touches as much anonymous memory as the .NET process has resident.
/// </summary>
public sealed record ForkComparison(double DotNetForksPerSecond, long DotNetRssAnonKiB, CForkLoopRun C, int AllocatingThreads)
{
    /// <summary>How many times faster the C loop forks.</summary>
    public double Ratio => C.ForksPerSecond / DotNetForksPerSecond;

    /// <summary>The issue's goal: within 1.5× of the C loop with no load, within 3× with threads allocating.</summary>
    public double Goal => AllocatingThreads == 0 ? 1.5 : 3.0;

    public bool MeetsGoal => Ratio <= Goal;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $".NET: {DotNetForksPerSecond:0} forks/s  C (same RssAnon {DotNetRssAnonKiB / 1024.0:0.0} MiB): {C.ForksPerSecond:0} forks/s  ratio M/N = {Ratio:0.00}×\n") +
        string.Create(CultureInfo.InvariantCulture,
            $"goal:              within {Goal:0.0}× ({(AllocatingThreads == 0 ? "no load" : $"{AllocatingThreads} threads allocating")}): {(MeetsGoal ? "met" : "NOT met")} " +
            $"(C: {C.Forks} forks in {C.Seconds:0.00} s, its RssAnon {C.RssAnonKiB / 1024.0:0.0} MiB)");
}

/// <summary>
/// The C side of the fork benchmark: mmap(MAP_PRIVATE|MAP_ANONYMOUS) of the bytes asked for, one byte written per page,
/// then fork → child <c>_exit(0)</c> → waitpid in a loop until the fork count or the time budget is reached.
/// Dispose deletes the compiled program.
/// </summary>
public sealed class CForkLoop : IDisposable
{
    /// <summary>Arguments: bytes to map and touch, number of forks, seconds budget. Prints "forks N seconds S rss-anon-kb R".</summary>
    public const string Source = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <time.h>
        #include <unistd.h>
        #include <sys/mman.h>
        #include <sys/wait.h>

        static double now(void) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            return t.tv_sec + t.tv_nsec / 1e9;
        }

        static long rss_anon_kb(void) {
            FILE *f = fopen("/proc/self/status", "r");
            char line[256];
            long kb = -1;
            if (!f) return -1;
            while (fgets(line, sizeof line, f))
                if (strncmp(line, "RssAnon:", 8) == 0) { kb = atol(line + 8); break; }
            fclose(f);
            return kb;
        }

        int main(int argc, char *argv[]) {
            if (argc != 4) { fprintf(stderr, "usage: fork_loop BYTES FORKS SECONDS\n"); return 2; }
            size_t bytes = strtoull(argv[1], NULL, 10);
            long forks = atol(argv[2]);
            double budget = atof(argv[3]);
            long page = sysconf(_SC_PAGESIZE);
            if (bytes > 0) {
                char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) { perror("mmap() failed"); return 1; }
                for (size_t i = 0; i < bytes; i += page) p[i] = 1;   /* one byte per page: every page resident */
            }
            long rss = rss_anon_kb();
            double start = now(), elapsed = 0;
            long done = 0;
            while (done < forks && (elapsed = now() - start) < budget) {
                pid_t pid = fork();
                if (pid < 0) { perror("fork() failed"); return 1; }
                if (pid == 0) _exit(0);
                int status;
                if (waitpid(pid, &status, 0) != pid) { perror("waitpid() failed"); return 1; }
                done++;
            }
            elapsed = now() - start;
            printf("forks %ld seconds %.6f rss-anon-kb %ld\n", done, elapsed, rss);
            return 0;
        }
        """;

    readonly string dir;

    CForkLoop(string dir, string path)
    {
        this.dir = dir;
        ProgramPath = path;
    }

    public string ProgramPath { get; }

    /// <summary>Compiles the loop with gcc -O2; null, with <paramref name="missing"/> saying why, when gcc is missing or fails.</summary>
    public static CForkLoop? Compile(out string? missing)
    {
        missing = null;
        string? gcc = CPrograms.FindTool("gcc");
        if (gcc is null) { missing = "gcc is not on PATH (Debian: apt-get install gcc)"; return null; }
        string dir = Directory.CreateTempSubdirectory("workbook-c-fork-").FullName;
        string source = Path.Combine(dir, "fork_loop.c"), program = Path.Combine(dir, "fork_loop");
        File.WriteAllText(source, Source);
        var (code, _, err) = CPrograms.Exec(gcc, ["-O2", "-Wall", "-o", program, source], TimeSpan.FromSeconds(60));
        if (code != 0)
        {
            Directory.Delete(dir, recursive: true);
            missing = $"gcc failed on fork_loop.c: {err.Trim()}";
            return null;
        }
        return new CForkLoop(dir, program);
    }

    /// <summary>Maps and touches <paramref name="bytes"/>, then forks up to <paramref name="forks"/> times within <paramref name="budget"/>.</summary>
    public CForkLoopRun Run(long bytes, int forks, TimeSpan budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(forks);
        var (code, stdout, stderr) = CPrograms.Exec(ProgramPath,
            [bytes.ToString(CultureInfo.InvariantCulture), forks.ToString(CultureInfo.InvariantCulture), budget.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)],
            budget + TimeSpan.FromSeconds(60));
        string[] w = stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (code != 0 || w.Length != 6 || w[0] != "forks" || w[2] != "seconds" || w[4] != "rss-anon-kb")
            throw new InvalidOperationException($"fork_loop failed (exit code {code}): {stdout.Trim()} {stderr.Trim()}");
        return new CForkLoopRun(bytes, int.Parse(w[1], CultureInfo.InvariantCulture),
            double.Parse(w[3], CultureInfo.InvariantCulture), long.Parse(w[5], CultureInfo.InvariantCulture));
    }

    /// <summary>This process's resident anonymous memory (RssAnon in /proc/self/status), in KiB.</summary>
    public static long RssAnonKiB() =>
        File.ReadLines("/proc/self/status")
            .Where(l => l.StartsWith("RssAnon:", StringComparison.Ordinal))
            .Select(l => long.Parse(l["RssAnon:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture))
            .First();

    /// <summary>
    /// Compiles the loop and runs it with this process's RssAnon and <paramref name="run"/>'s fork count (capped by
    /// <paramref name="budget"/>); null, with <paramref name="skipped"/> saying why, when gcc is missing or fails.
    /// </summary>
    public static ForkComparison? CompareWith(ForkStressRun run, TimeSpan budget, out string? skipped)
    {
        ArgumentNullException.ThrowIfNull(run);
        long rss = RssAnonKiB();
        using var loop = Compile(out skipped);
        if (loop is null) return null;
        var c = loop.Run(rss * 1024, run.Forks, budget);
        return new ForkComparison(run.ForksPerSecond, rss, c, run.AllocatingThreads);
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
    }
}

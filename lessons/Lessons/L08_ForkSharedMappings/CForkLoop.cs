using System.Globalization;

namespace Lessons.L08_ForkSharedMappings;

/// <summary>What a C fork loop gave: forks done, seconds, and the C process's shape while it forked (RssAnon, mappings, threads).</summary>
public sealed record CForkLoopRun(long BytesTouched, int Forks, double Seconds, long RssAnonKiB, int Mappings, int AllocatingThreads)
{
    public double ForksPerSecond => Forks / Seconds;
}

/// <summary>
/// How fast <see cref="ForkSafety.Stress"/> forks, against C in the same run (lesson 08, step 5). fork's cost grows with
/// what it copies: the page tables of resident anonymous pages and one entry per mapping (VMA). And threads that
/// allocate meanwhile compete for the CPU and for the address-space lock fork holds while it copies. So the fair C loop
/// has the .NET process's shape: as much anonymous memory touched, as many mappings, as many threads allocating
/// (<see cref="Matched"/>). <see cref="RssOnly"/> is the loop the issue first asked for (only the anonymous memory
/// matched, no threads): the gap between the two is what the mappings and the threads cost fork, in C as in .NET.
/// </summary>
public sealed record ForkComparison(double DotNetForksPerSecond, long DotNetRssAnonKiB, int DotNetMappings, int AllocatingThreads,
    CForkLoopRun Matched, CForkLoopRun RssOnly)
{
    /// <summary>How many times faster the C loop of the same shape forks (below 1: .NET is faster).</summary>
    public double Ratio => Matched.ForksPerSecond / DotNetForksPerSecond;

    /// <summary>The same against the loop with only the anonymous memory matched.</summary>
    public double RssOnlyRatio => RssOnly.ForksPerSecond / DotNetForksPerSecond;

    /// <summary>The goal: within 1.5× of the C loop with no load, within 3× with threads allocating.</summary>
    public double Goal => AllocatingThreads == 0 ? 1.5 : 3.0;

    public bool MeetsGoal => Ratio <= Goal;

    public override string ToString()
    {
        string load = AllocatingThreads == 0 ? "no load" : $"{AllocatingThreads} threads allocating";
        return string.Create(CultureInfo.InvariantCulture, $"""
            .NET:              {DotNetForksPerSecond:0} forks/s  (RssAnon {DotNetRssAnonKiB / 1024.0:0.0} MiB, {DotNetMappings} mappings, {load})
            C, same shape:     {Matched.ForksPerSecond:0} forks/s  (RssAnon {Matched.RssAnonKiB / 1024.0:0.0} MiB, {Matched.Mappings} mappings, {Matched.AllocatingThreads} threads allocating; {Matched.Forks} forks in {Matched.Seconds:0.00} s)  ratio C/.NET = {Ratio:0.00}×
            C, RssAnon only:   {RssOnly.ForksPerSecond:0} forks/s  (RssAnon {RssOnly.RssAnonKiB / 1024.0:0.0} MiB, {RssOnly.Mappings} mappings, no threads; {RssOnly.Forks} forks in {RssOnly.Seconds:0.00} s)  ratio C/.NET = {RssOnlyRatio:0.00}×
            goal:              within {Goal:0.0}× of C of the same shape ({load}): {(MeetsGoal ? "met" : "NOT met")}; against C with RssAnon only, {RssOnlyRatio:0.00}× (its mappings and threads cost C {RssOnly.ForksPerSecond / Matched.ForksPerSecond:0.00}×)
            """);
    }
}

/// <summary>
/// The C side of the fork benchmark: mmap(MAP_PRIVATE|MAP_ANONYMOUS) of the bytes asked for, one byte written per page;
/// threads that malloc, zero and free blocks of 64 to 4159 bytes flat out (as ForkSafety's allocating threads do with
/// new byte[]); more one-page mappings (alternately writable and touched, and read-only, so that none merge) until the
/// process has as many as asked; then fork → child <c>_exit(0)</c> → waitpid in a loop until the fork count
/// or the time budget is reached. Dispose deletes the compiled program.
/// </summary>
public sealed class CForkLoop : IDisposable
{
    /// <summary>Arguments: bytes to map and touch, mappings wanted, allocating threads, number of forks, seconds budget.
    /// Prints "forks N seconds S rss-anon-kb R mappings M".</summary>
    public const string Source = """
        #define _GNU_SOURCE
        #include <pthread.h>
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

        static int mappings(void) {
            FILE *f = fopen("/proc/self/maps", "r");
            int n = 0, c;
            if (!f) return -1;
            while ((c = fgetc(f)) != EOF) if (c == '\n') n++;
            fclose(f);
            return n;
        }

        static volatile int stop;

        static void *allocate(void *unused) {
            static __thread void *keep[1024];
            (void)unused;
            for (unsigned i = 0; !stop; i++) {
                size_t n = 64 + (i & 4095);
                free(keep[i & 1023]);
                keep[i & 1023] = malloc(n);
                if (keep[i & 1023]) memset(keep[i & 1023], 0, n);
            }
            for (int i = 0; i < 1024; i++) free(keep[i]);
            return NULL;
        }

        int main(int argc, char *argv[]) {
            if (argc != 6) { fprintf(stderr, "usage: fork_loop BYTES MAPPINGS THREADS FORKS SECONDS\n"); return 2; }
            size_t bytes = strtoull(argv[1], NULL, 10);
            int wanted = atoi(argv[2]), threads = atoi(argv[3]);
            long forks = atol(argv[4]);
            double budget = atof(argv[5]);
            long page = sysconf(_SC_PAGESIZE);
            if (threads < 0 || threads > 64) { fprintf(stderr, "fork_loop: 0 to 64 threads\n"); return 2; }
            if (bytes > 0) {
                char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) { perror("mmap() failed"); return 1; }
                for (size_t i = 0; i < bytes; i += page) p[i] = 1;   /* one byte per page: every page resident */
            }
            long rss = rss_anon_kb();
            pthread_t t[64];
            for (int i = 0; i < threads; i++)
                if (pthread_create(&t[i], NULL, allocate, NULL) != 0) { perror("pthread_create() failed"); return 1; }
            /* the threads' stacks and malloc arenas are mappings too: count them, then add what is missing */
            for (int i = 0; mappings() < wanted && i < 4 * wanted; i++) {
                char *q = mmap(NULL, page, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (q == MAP_FAILED) { perror("mmap() failed"); return 1; }
                if (i % 2 == 0) q[0] = 1;
            }
            int maps = mappings();
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
            stop = 1;
            for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
            printf("forks %ld seconds %.6f rss-anon-kb %ld mappings %d\n", done, elapsed, rss, maps);
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

    /// <summary>
    /// Maps and touches <paramref name="bytes"/>, adds mappings up to <paramref name="mappings"/>, starts
    /// <paramref name="threads"/> allocating threads, then forks up to <paramref name="forks"/> times within <paramref name="budget"/>.
    /// </summary>
    public CForkLoopRun Run(long bytes, int mappings, int threads, int forks, TimeSpan budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ArgumentOutOfRangeException.ThrowIfNegative(mappings);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(threads, 64);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(forks);
        string[] args = [.. new long[] { bytes, mappings, threads, forks }.Select(n => n.ToString(CultureInfo.InvariantCulture)),
            budget.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)];
        var (code, stdout, stderr) = CPrograms.Exec(ProgramPath, args, budget + TimeSpan.FromSeconds(60));
        string[] w = stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (code != 0 || w.Length != 8 || w[0] != "forks" || w[2] != "seconds" || w[4] != "rss-anon-kb" || w[6] != "mappings")
            throw new InvalidOperationException($"fork_loop failed (exit code {code}): {stdout.Trim()} {stderr.Trim()}");
        return new CForkLoopRun(bytes, int.Parse(w[1], CultureInfo.InvariantCulture), double.Parse(w[3], CultureInfo.InvariantCulture),
            long.Parse(w[5], CultureInfo.InvariantCulture), int.Parse(w[7], CultureInfo.InvariantCulture), threads);
    }

    /// <summary>This process's resident anonymous memory (RssAnon in /proc/self/status), in KiB.</summary>
    public static long RssAnonKiB() =>
        File.ReadLines("/proc/self/status")
            .Where(l => l.StartsWith("RssAnon:", StringComparison.Ordinal))
            .Select(l => long.Parse(l["RssAnon:".Length..].Replace("kB", "", StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture))
            .First();

    /// <summary>This process's mappings (VMAs): the lines of /proc/self/maps.</summary>
    public static int MappingCount() => File.ReadLines("/proc/self/maps").Count();

    /// <summary>
    /// Compiles the loop and runs it twice with <paramref name="run"/>'s fork count (each capped by <paramref name="budget"/>):
    /// with the run's shape (RssAnon, mappings, allocating threads), and with its RssAnon only. Null, with
    /// <paramref name="skipped"/> saying why, when gcc is missing or fails.
    /// </summary>
    public static ForkComparison? CompareWith(ForkStressRun run, TimeSpan budget, out string? skipped)
    {
        ArgumentNullException.ThrowIfNull(run);
        using var loop = Compile(out skipped);
        if (loop is null) return null;
        long bytes = run.RssAnonKiB * 1024;
        var matched = loop.Run(bytes, run.Mappings, run.AllocatingThreads, run.Forks, budget);
        var rssOnly = loop.Run(bytes, 0, 0, run.Forks, budget);
        return new ForkComparison(run.ForksPerSecond, run.RssAnonKiB, run.Mappings, run.AllocatingThreads, matched, rssOnly);
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
    }
}

using System.Diagnostics;
using System.Text.RegularExpressions;
using Lessons.Heap;
using Lessons.Posix;

namespace Lessons.L02_MallocFamily;

/// <summary>
/// One of the course's C programs compiled with gcc and run under Valgrind's memcheck. <c>Missing</c> says which tool
/// is not installed (and then nothing ran); otherwise <c>Stdout</c> is what the program printed and <c>Report</c> the
/// lines of Valgrind's report a student reads (errors, HEAP SUMMARY, lost blocks, LEAK SUMMARY, ERROR SUMMARY).
/// </summary>
public sealed record ValgrindRun(string Name, string? Missing, string Stdout, IReadOnlyList<string> Report)
{
    public bool Ran => Missing is null;

    /// <summary>The program's exit status (0 when it did not run).</summary>
    public int ExitCode { get; init; }

    /// <summary>What the program wrote to its standard error (Valgrind writes to its log file, not here).</summary>
    public string Stderr { get; init; } = "";

    /// <summary>"definitely lost: N bytes in M blocks" from the LEAK SUMMARY; (0, 0) when there is none.</summary>
    public (long Bytes, int Blocks) DefinitelyLost
    {
        get
        {
            var m = Report.Select(l => Regex.Match(l, @"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks")).FirstOrDefault(m => m.Success);
            return m is null ? (0, 0) : (long.Parse(m.Groups[1].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture),
                int.Parse(m.Groups[2].Value.Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>How many "Invalid read" errors Valgrind reported.</summary>
    public int InvalidReads => Report.Count(l => l.StartsWith("Invalid read", StringComparison.Ordinal));

    public override string ToString() => Missing is not null
        ? $"{Name}: not run: {Missing}"
        : $"{Name}: the program printed:\n{Stdout.TrimEnd()}\n" +
          (Stderr.Length > 0 ? $"and on stderr:\n{Stderr.TrimEnd()}\n" : "") +
          (ExitCode != 0 ? $"exit status {ExitCode}\n" : "") +
          $"Valgrind:\n  {string.Join("\n  ", Report)}";
}

/// <summary>The course's concat4 and dangling programs in C, run under Valgrind where gcc and valgrind exist.</summary>
public static class ValgrindDemo
{
    /// <summary>The course's concatenate: a calloc'd block of strlen(s1) + strlen(s2) + 1 bytes holding both strings.</summary>
    public const string Concatenate = """
        #include <assert.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        char *concatenate(char *s1, char *s2)
        {
            assert(s1 != NULL && s2 != NULL);
            size_t l1 = strlen(s1), l2 = strlen(s2);
            char *s = calloc(1, l1 + l2 + 1);
            if (!s) { perror("calloc"); exit(EXIT_FAILURE); }
            strcpy(s, s1);
            strcpy(s + l1, s2);
            return s;
        }

        """;

    /// <summary>concat4: the two intermediate strings are never freed.</summary>
    public const string Concat4 = Concatenate + """
        char *concatenate4(char *s1, char *s2, char *s3, char *s4)
        {
            char *s12 = concatenate(s1, s2);
            char *s34 = concatenate(s3, s4);
            char *s = concatenate(s12, s34);
            return s;
        }

        int main(void)
        {
            char *s1 = "You ", *s2 = "shall ", *s3 = "not ", *s4 = "pass.";
            char *s = concatenate4(s1, s2, s3, s4);
            printf("%s + %s + %s + %s = %s\n", s1, s2, s3, s4, s);
            free(s);
            return 0;
        }
        """;

    /// <summary>dangling: the string is freed, then printed through the pointer that still holds its address.</summary>
    public const string Dangling = Concatenate + """
        void print_string(char *s)
        {
            if (s) printf("%s\n", s);
        }

        int main(void)
        {
            char *s1 = "abra", *s2 = "cadabra";
            char *s = concatenate(s1, s2);
            printf("%s + %s = %s\n", s1, s2, s);
            free(s);
            print_string(s);
            return 0;
        }
        """;

    /// <summary>The lecture's exercise: concatenate the two strings given on the command line.</summary>
    public const string ConcatArgs = Concatenate + """
        int main(int argc, char *argv[])
        {
            if (argc != 3) {
                fprintf(stderr, "usage: %s S1 S2\n", argv[0]);
                return EXIT_FAILURE;
            }
            char *s = concatenate(argv[1], argv[2]);
            printf("%s + %s = %s\n", argv[1], argv[2], s);
            free(s);
            return 0;
        }
        """;

    /// <summary>The concat4 strings.</summary>
    public static readonly string[] Concat4Words = ["You ", "shall ", "not ", "pass."];

    /// <summary>
    /// Compiles <paramref name="source"/> with gcc -g -O0 and runs it under valgrind --leak-check=full, with
    /// <paramref name="arguments"/> as its command line.
    /// </summary>
    public static ValgrindRun Run(string name, string source, params string[] arguments)
    {
        string? gcc = CPrograms.FindTool("gcc"), valgrind = CPrograms.FindTool("valgrind");
        if (gcc is null || valgrind is null)
            return new ValgrindRun(name, $"{(gcc is null ? "gcc" : "valgrind")} is not installed on this machine (Debian: apt-get install gcc valgrind)", "", []);
        string dir = Directory.CreateTempSubdirectory("workbook-valgrind-").FullName;
        try
        {
            string c = Path.Combine(dir, name + ".c"), exe = Path.Combine(dir, name), log = Path.Combine(dir, "valgrind.log");
            File.WriteAllText(c, source);
            var compiled = CPrograms.Exec(gcc, ["-g", "-O0", "-o", exe, c], TimeSpan.FromSeconds(60));
            if (compiled.Code != 0)
                return new ValgrindRun(name, $"gcc failed: {compiled.Stderr.Trim()}", "", []);
            var run = CPrograms.Exec(valgrind, ["--leak-check=full", $"--log-file={log}", exe, .. arguments], TimeSpan.FromSeconds(60));
            return new ValgrindRun(name, null, run.Stdout, ReportLines(File.ReadAllLines(log))) { ExitCode = run.Code, Stderr = run.Stderr };
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>
    /// The lines of a memcheck log worth reading, without the "==PID==" prefix: the first error with the line saying
    /// what its address was (ERROR SUMMARY counts them all), then everything from HEAP SUMMARY on, without stack frames
    /// and hints.
    /// </summary>
    public static IReadOnlyList<string> ReportLines(IEnumerable<string> log)
    {
        var kept = new List<string>();
        bool summary = false, firstError = true;
        foreach (var raw in log)
        {
            string line = Regex.Replace(raw, @"^==\d+== ?", ""), t = line.Trim();
            if (t.StartsWith("HEAP SUMMARY:", StringComparison.Ordinal)) summary = true;
            if (!summary)
            {
                if (t.StartsWith("Invalid ", StringComparison.Ordinal)) { if (firstError) kept.Add(t); }
                else if (t.StartsWith("Address 0x", StringComparison.Ordinal) && firstError) { kept.Add("  " + t); firstError = false; }
                continue;
            }
            if (t.Length == 0 || t.StartsWith("at 0x", StringComparison.Ordinal) || t.StartsWith("by 0x", StringComparison.Ordinal)
                || t.StartsWith("For lists", StringComparison.Ordinal) || t.StartsWith("For counts", StringComparison.Ordinal)
                || t.StartsWith("Rerun with", StringComparison.Ordinal) || t.StartsWith("To see them", StringComparison.Ordinal))
                continue;
            kept.Add(line.StartsWith("   ", StringComparison.Ordinal) ? "  " + t : t);
        }
        return kept;
    }

    /// <summary>
    /// concat4's calls on a checking heap: the four words copied onto it (and freed at the end, as string literals
    /// need no freeing in C), the leaky concatenate4, then free of its result. The report shows the two lost blocks.
    /// </summary>
    public static (string Result, HeapReport Report) Concat4OnCheckingHeap()
    {
        using var heap = new CheckingHeap();
        nint[] w = Concat4Words.Select(s => heap.Strdup(s)).ToArray();
        nint s = MallocFamily.LeakyConcatenate4(heap, w[0], w[1], w[2], w[3]);
        string result = heap.ReadString(s);
        heap.Free(s);
        foreach (nint p in w) heap.Free(p);
        return (result, heap.Report());
    }

    /// <summary>dangling's calls on a checking heap: concatenate, read, free, then read again through the old pointer.</summary>
    public static (string Before, string AfterFree, HeapReport Report) DanglingOnCheckingHeap()
    {
        using var heap = new CheckingHeap();
        nint a = heap.Strdup("abra"), b = heap.Strdup("cadabra");
        nint s = MallocFamily.Concatenate(heap, a, b);
        string before = heap.ReadString(s);
        heap.Free(s);
        string after;
        try { after = heap.ReadString(s); }
        catch (HeapMisuseException e) { after = e.Message; }
        heap.Free(a);
        heap.Free(b);
        return (before, after, heap.Report());
    }
}

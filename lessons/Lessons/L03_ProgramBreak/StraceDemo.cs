using System.Globalization;
using System.Text.RegularExpressions;

namespace Lessons.L03_ProgramBreak;

/// <summary>One system call strace reported: its name, its arguments as strace wrote them, and its result.</summary>
public sealed record Syscall(string Name, string Arguments, string Result)
{
    /// <summary>brk's argument as a number (0 for brk(NULL)), or null for another call.</summary>
    public ulong? BrkArgument => Name != "brk" ? null : Arguments == "NULL" ? 0 : Hex(Arguments);

    /// <summary>The result as a number when strace wrote one in hex (brk and mmap return addresses), else null.</summary>
    public ulong? ResultAddress => Result.StartsWith("0x", StringComparison.Ordinal) ? Hex(Result) : null;

    static ulong Hex(string text) => ulong.Parse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public override string ToString() => $"{Name}({Arguments}) = {Result}";
}

/// <summary>
/// The lecture's C program run under <c>strace -e trace=brk,mmap,munmap</c>. <c>Missing</c> says which tool is not
/// installed (and then nothing ran); otherwise <c>Breaks</c> is what the program printed (sbrk(0) before the first
/// malloc, then after each) and <c>Calls</c> the system calls strace saw, the dynamic loader's included.
/// </summary>
public sealed record StraceRun(string? Missing, IReadOnlyList<ulong> Breaks, IReadOnlyList<Syscall> Calls)
{
    public bool Ran => Missing is null;

    /// <summary>The brk calls that moved the break, from the program's first brk(NULL) on: (new break − old break) each.</summary>
    public IReadOnlyList<long> BrkMoves
    {
        get
        {
            var moves = new List<long>();
            ulong? current = null;
            foreach (var c in Calls.Where(c => c.Name == "brk" && c.ResultAddress is not null))
            {
                ulong now = c.ResultAddress!.Value;
                if (current is ulong was && now != was) moves.Add((long)(now - was));
                current = now;
            }
            return moves;
        }
    }
}

/// <summary>The lecture's 50 × 32 KiB program in C, compiled with gcc and run under strace where both exist.</summary>
public static class StraceDemo
{
    /// <summary>Fifty malloc(32 KiB), printing sbrk(0) before the first and after each, then free all, first to last.</summary>
    public const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>

        #define BLOCKS 50
        #define BLOCK_SIZE (32 * 1024)

        int main(void)
        {
            char *blocks[BLOCKS];
            printf("%p\n", sbrk(0));
            for (int i = 0; i < BLOCKS; i++) {
                blocks[i] = malloc(BLOCK_SIZE);
                printf("%p\n", sbrk(0));
            }
            for (int i = 0; i < BLOCKS; i++)
                free(blocks[i]);
            return 0;
        }
        """;

    /// <summary>Compiles <see cref="Source"/> with gcc -O0 and runs it under strace -e trace=brk,mmap,munmap.</summary>
    public static StraceRun Run()
    {
        string? gcc = CPrograms.FindTool("gcc") ?? CPrograms.FindTool("cc"), strace = CPrograms.FindTool("strace");
        if (gcc is null || strace is null)
            return new StraceRun($"{(gcc is null ? "gcc (or cc)" : "strace")} is not installed on this machine (Debian: apt-get install gcc strace)", [], []);
        string dir = Directory.CreateTempSubdirectory("workbook-strace-").FullName;
        try
        {
            string c = Path.Combine(dir, "sbrk.c"), exe = Path.Combine(dir, "sbrk"), log = Path.Combine(dir, "strace.log");
            File.WriteAllText(c, Source);
            var compiled = CPrograms.Exec(gcc, ["-O0", "-o", exe, c], TimeSpan.FromSeconds(60));
            if (compiled.Code != 0)
                return new StraceRun($"gcc failed: {compiled.Stderr.Trim()}", [], []);
            var run = CPrograms.Exec(strace, ["-o", log, "-e", "trace=brk,mmap,munmap", exe], TimeSpan.FromSeconds(60));
            if (run.Code != 0)
                return new StraceRun($"strace exited with {run.Code}: {run.Stderr.Trim()}", [], []);
            var breaks = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => ulong.Parse(l.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToList();
            return new StraceRun(null, breaks, ParseLog(File.ReadAllLines(log)));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    static readonly Regex CallLine = new(@"^(?<name>brk|mmap|munmap)\((?<args>.*)\)\s+=\s+(?<result>\S+)", RegexOptions.CultureInvariant);

    /// <summary>The brk, mmap and munmap lines of an strace log (others, such as "+++ exited with 0 +++", are skipped).</summary>
    public static IReadOnlyList<Syscall> ParseLog(IEnumerable<string> lines) =>
        lines.Select(l => CallLine.Match(l)).Where(m => m.Success)
            .Select(m => new Syscall(m.Groups["name"].Value, m.Groups["args"].Value, m.Groups["result"].Value)).ToList();
}

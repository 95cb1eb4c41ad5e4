using Workbook.Kernel;
using Workbook.L03_ProgramBreak;
using Workbook.L04_AnonymousMappings;
using Workbook.L05_BuildAnAllocator;
using Workbook.L08_ForkSharedMappings;
using Workbook.L09_PosixShm;
using Workbook.L10_SysvUptime;
using Workbook.Notebooks;
using Workbook.Release;

namespace Workbook;

/// <summary>A command of the workbook CLI: a one-line description and a handler returning the exit code.</summary>
sealed record Command(string Description, Func<string[], int> Handler);

public static class Program
{
    /// <summary>Every command, one line each. The handler gets the arguments after the command name.</summary>
    internal static readonly IReadOnlyDictionary<string, Command> Commands = new Dictionary<string, Command>
    {
        ["alloc-cost"] = new("lesson 04 benchmark: allocate + touch + free via malloc vs mmap, 16 B to 64 MiB, with ratios (--budget-ms)", AllocCostCommand.Execute),
        ["mmap-probe"] = new("lesson 04: which malloc sizes get a mapping of their own, in a fresh process, then again after freeing them", MmapProbeCommand.Execute),
        ["malloc-lab"] = new("lesson 05: replay .rep traces against an allocator and libc; check, utilization, throughput, score (malloc-lab --help)", MallocLabCommand.Execute),
        ["heap-fuzz"] = new("lesson 05: random operations on each reference allocator, heap checker after each (heap-fuzz --help)", HeapFuzzCommand.Execute),
        ["help"] = new("list the commands", _ => Help(Console.Out, 0)),
        ["break-trace"] = new("lesson 03: sbrk(0) around each malloc on the main thread (break-trace --help)", BreakTraceCommand.Execute),
        ["fork-stress"] = new("lesson 08 benchmark: forks while other threads allocate; hangs recovered, children left, forks/s", ForkStressCommand.Execute),
        ["release"] = new("course: write the student copy (stubs, no hidden tests) and its test manifest (release --help)", ReleaseCommands.Release),
        ["validate-release"] = new("course: check a student copy builds, its graded tests fail, the solutions score full marks", ReleaseCommands.Validate),
        ["check"] = new("lessons: run lesson NN's visible graded tests on your exercises; points and failure messages (check --help)", CheckCommand.Execute),
        ["grade"] = new("course: grade a submission or a folder of them; grade table, gradebook.csv, results.json, feedback (grade --help)", GradingCommands.Grade),
        ["gradescope"] = new("course: write Gradescope's autograder.zip (setup.sh, run_autograder, the course with its hidden tests)", GradingCommands.Gradescope),
        ["gradescope-run"] = new("course: what run_autograder runs on Gradescope: grade the upload, write results.json (gradescope-run --help)", GradingCommands.GradescopeRun),
        ["shm-producer"] = new("lesson 09: create a POSIX shared memory object and write a message (shm-producer --help)", ShmCommands.Producer),
        ["shm-consumer"] = new("lesson 09: read the producer's message and unlink the object (shm-consumer --help)", ShmCommands.Consumer),
        ["uptime-server"] = new("lesson 10: System V up-time server: HH:MM:SS at offset 0 every second, seqlock at 64 (uptime-server --help)", UptimeCommands.Server),
        ["uptime-client"] = new("lesson 10: attach read-only and print the server's up-time once a second (uptime-client --help)", UptimeCommands.Client),
        ["uptime-load"] = new("lesson 10: N client threads read a fast-writing up-time server for S seconds; torn and out-of-order readings counted (uptime-load --help)", UptimeCommands.Load),
        ["uptime-status"] = new("lesson 10: IPC_STAT of the up-time segment: size, mode, creator pid, attach count, times", UptimeCommands.Status),
        ["kernel"] = new("notebooks in VS Code: pin the .NET Interactive kernel, write its Jupyter spec \".NET (C#)\" (kernel install|uninstall)", KernelCommand.Execute),
        ["run"] = new("run notebooks top to bottom and write executed copies (run --help)", RunCommand.Execute),
    };

    public static int Main(string[] args)
    {
        if (WriteXorExecute.TieWorkerToParent() is int orphaned)
            return orphaned;
        if (WriteXorExecute.NeedsRestart(args))
            return WriteXorExecute.RestartWithItOff(args);
        // Notebooks and lesson code that start the CLI as a child find this build, whatever its configuration.
        Environment.SetEnvironmentVariable(Lessons.WorkbookCli.LocationVariable, typeof(Program).Assembly.Location);
        if (args.Length == 0 || args[0] is "-h" or "--help")
            return Help(args.Length == 0 ? Console.Error : Console.Out, args.Length == 0 ? 2 : 0);
        if (!Commands.TryGetValue(args[0], out var command))
        {
            Console.Error.WriteLine($"unknown command '{args[0]}'");
            return Help(Console.Error, 2);
        }
        return command.Handler(args[1..]);
    }

    static int Help(TextWriter writer, int exitCode)
    {
        writer.WriteLine("usage: workbook <command> [options]   (from the repository: dotnet run --project lessons/Workbook -- <command>)");
        writer.WriteLine();
        writer.WriteLine("commands:");
        var width = Commands.Keys.Max(name => name.Length) + 2;
        foreach (var (name, command) in Commands.OrderBy(entry => entry.Key, StringComparer.Ordinal))
            writer.WriteLine($"  {name.PadRight(width)}{command.Description}");
        return exitCode;
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using Lessons.Posix;
using Workbook.Notebooks;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary>
/// Whatever a cell does to its process, `run` reports every notebook, writes its executed copy, exits 1, and leaves
/// nothing running: each notebook runs in a child process of its own that the runner supervises.
/// </summary>
public class RunnerIsolationTests
{
    [Theory]
    [InlineData("Environment.Exit(0);", "its process ended with exit code 0 (a cell called Environment.Exit?)", "")]
    [InlineData("Environment.Exit(3);", "its process ended with exit code 3", "")]
    [InlineData("Environment.FailFast(\"gave up\");", "its process ended by signal 6 (SIGABRT", "gave up")]
    [InlineData("int F(int n) => F(n + 1) + 1;\nF(0)", "its process ended by signal 6 (SIGABRT", "Stack overflow.")]
    [InlineData("new System.Threading.Thread(() => throw new InvalidOperationException(\"off the cell's thread\")).Start();\nSystem.Threading.Thread.Sleep(30_000);",
        "its process ended by signal 6 (SIGABRT", "Unhandled exception. System.InvalidOperationException: off the cell's thread")]
    public void A_cell_that_ends_its_process_fails_its_notebook_and_the_next_one_runs(string cell, string message, string detail)
    {
        using var temp = new TempFolder();
        var folder = Directory.CreateDirectory(temp.File("notebooks")).FullName;
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
            NotebookFile.CodeCell("Console.WriteLine(\"first\");"), NotebookFile.CodeCell(cell), NotebookFile.CodeCell("3")), Path.Combine(folder, "a-ends.ipynb"));
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell("1 + 1")), Path.Combine(folder, "b-next.ipynb"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = RunCommand.Execute([folder, "--out", temp.File("out")], stdout, stderr);

        Assert.Equal(1, exitCode);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^a-ends\.ipynb  2 cells  1 error  \d+\.\d s  stopped at cell 2, 1 cell not run  -> ", lines[0]);
        Assert.Matches(@"^b-next\.ipynb  1 cell  0 errors  ", lines[1]);
        Assert.Matches(@"^total  2 notebooks  3 cells  1 error  ", lines[2]);
        Assert.Contains($"a-ends.ipynb: cell 2: {message}", stderr.ToString());
        Assert.Contains(detail, stderr.ToString());
        var executed = CodeCells(NotebookFile.Load(temp.File("out/a-ends.ipynb")));
        Assert.Equal("first\n", (string)Outputs(executed[0]).Single()["text"]!); // the cells before it keep their outputs
        var error = Outputs(executed[1]).Single();
        Assert.Equal("NotebookProcessEnded", (string)error["ename"]!);
        Assert.Contains(detail, string.Join('\n', error["traceback"]!.AsArray().Select(l => (string?)l)));
        Assert.Empty(Outputs(executed[2]));
        Assert.True(File.Exists(temp.File("out/b-next.ipynb")));
    }

    [Fact]
    public void Environment_Exit_0_in_a_cell_makes_the_command_exit_1_with_its_report()
    {
        using var temp = new TempFolder();
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell("Environment.Exit(0);")), temp.File("exit.ipynb"));

        var run = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "run", temp.File("exit.ipynb"), "--out", temp.File("out")],
            AppContext.BaseDirectory, TimeSpan.FromMinutes(2));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("exit.ipynb  1 cell  1 error", run.Stdout);
        Assert.Contains("total  1 notebook  1 cell  1 error", run.Stdout);
        Assert.Contains("exit.ipynb: cell 1: its process ended with exit code 0", run.Stderr);
    }

    [Fact]
    public void A_cell_that_does_not_end_is_stopped_with_its_process_and_the_next_notebook_runs()
    {
        using var temp = new TempFolder();
        var folder = Directory.CreateDirectory(temp.File("notebooks")).FullName;
        var pidFile = temp.File("pid");
        // The pid in a cell of its own, and a timeout that a loaded machine's first compile fits in (load 12 seen here).
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
                NotebookFile.CodeCell($$"""System.IO.File.WriteAllText(@"{{pidFile}}", Environment.ProcessId.ToString());"""),
                NotebookFile.CodeCell("System.Threading.Thread.Sleep(120_000);")),
            Path.Combine(folder, "a-slow.ipynb"));
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell("1")), Path.Combine(folder, "b-next.ipynb"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = RunCommand.Execute([folder, "--out", temp.File("out"), "--timeout", "10"], stdout, stderr);

        Assert.Equal(1, exitCode);
        Assert.Contains("a-slow.ipynb: cell 2: did not finish within 10 s", stderr.ToString());
        Assert.Matches(@"(?m)^b-next\.ipynb  1 cell  0 errors  ", stdout.ToString());
        Assert.True(File.Exists(temp.File("out/b-next.ipynb")));
        Assert.False(Signals.IsAlive(int.Parse(File.ReadAllText(pidFile))), "the timed-out notebook's process still runs");
    }

    [Fact]
    public void A_raw_fork_in_a_cell_neither_holds_the_output_nor_outlives_the_run()
    {
        using var temp = new TempFolder();
        var pidFile = temp.File("forked");
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell($$"""
                [System.Runtime.InteropServices.DllImport("libc")] static extern int fork();
                [System.Runtime.InteropServices.DllImport("libc")] static extern uint sleep(uint seconds);
                [System.Runtime.InteropServices.DllImport("libc")] static extern int getpid();
                if (fork() == 0) { System.IO.File.WriteAllText(@"{{pidFile}}", getpid().ToString()); sleep(60); }
                while (!System.IO.File.Exists(@"{{pidFile}}")) System.Threading.Thread.Sleep(10);
                """)),
            temp.File("fork.ipynb"));
        var clock = Stopwatch.StartNew();

        // RunProcess reads stdout and stderr to their ends: a forked copy holding them would keep it waiting 60 s.
        var run = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "run", temp.File("fork.ipynb"), "--out", temp.File("out")],
            AppContext.BaseDirectory, TimeSpan.FromMinutes(2));

        Assert.Equal(0, run.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(45), $"run took {clock.Elapsed.TotalSeconds:0} s");
        var forked = int.Parse(File.ReadAllText(pidFile).Trim('\0'));
        var wait = Stopwatch.StartNew();
        while (Signals.IsAlive(forked) && wait.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        Assert.False(Signals.IsAlive(forked), $"the forked copy {forked} outlived the run");
    }

    /// <summary>The supervisor SIGKILLed: the orphaned notebook stops its own group, a raw fork's copy included.</summary>
    [Fact]
    public void A_raw_fork_in_a_cell_dies_with_the_notebook_when_the_runner_is_killed()
    {
        using var temp = new TempFolder();
        var pidFile = temp.File("forked");
        var supervisorFile = temp.File("supervisor");
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell($$"""
                [System.Runtime.InteropServices.DllImport("libc")] static extern int fork();
                [System.Runtime.InteropServices.DllImport("libc")] static extern uint sleep(uint seconds);
                [System.Runtime.InteropServices.DllImport("libc")] static extern int getpid();
                [System.Runtime.InteropServices.DllImport("libc")] static extern int getppid();
                if (fork() == 0) { System.IO.File.WriteAllText(@"{{pidFile}}", getpid().ToString()); sleep(60); }
                System.IO.File.WriteAllText(@"{{supervisorFile}}", getppid().ToString());
                System.Threading.Thread.Sleep(60_000);
                """)),
            temp.File("fork.ipynb"));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CommandLineTests.WorkbookDll, "run", temp.File("fork.ipynb"), "--out", temp.File("out") })
            start.ArgumentList.Add(a);
        using var runner = Process.Start(start)!;
        _ = runner.StandardOutput.ReadToEndAsync();
        _ = runner.StandardError.ReadToEndAsync();
        int forked = 0;
        try
        {
            var wait = Stopwatch.StartNew();
            while (!(File.Exists(pidFile) && File.Exists(supervisorFile)) && wait.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(20);
            Thread.Sleep(100); // both files written in full
            forked = int.Parse(File.ReadAllText(pidFile).Trim('\0'));
            int supervisor = int.Parse(File.ReadAllText(supervisorFile).Trim('\0'));
            Signals.Kill(supervisor, Signal.SIGKILL);
            wait.Restart();
            while (Signals.IsAlive(forked) && wait.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
            Assert.False(Signals.IsAlive(forked), $"the forked copy {forked} outlived its killed runner: {Describe(forked)}");
        }
        finally
        {
            if (!runner.HasExited) runner.Kill(entireProcessTree: true);
            if (forked > 0 && Signals.IsAlive(forked))
                try { Signals.Kill(forked, Signal.SIGKILL); } catch (PosixException) { }
        }
    }

    /// <summary>A process's state and parent, and its parent's name, for a failure message.</summary>
    static string Describe(int pid)
    {
        try
        {
            static IEnumerable<string> Status(int pid, params string[] keys) =>
                File.ReadAllLines($"/proc/{pid}/status").Where(line => keys.Any(line.StartsWith));
            var ppid = int.Parse(Status(pid, "PPid:").Single().Split('\t')[1]);
            return $"{string.Join("; ", Status(pid, "State:", "PPid:"))}; parent {string.Join("; ", Status(ppid, "Name:", "State:"))}";
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            return e.Message;
        }
    }

    [Fact]
    public void A_cell_that_prints_millions_of_characters_keeps_one_mebi_and_says_so()
    {
        using var temp = new TempFolder();
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
            NotebookFile.CodeCell("for (int i = 0; i < 300_000; i++) Console.WriteLine($\"line {i,8}\");")), temp.File("loud.ipynb"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = RunCommand.Execute([temp.File("loud.ipynb"), "--out", temp.File("out")], stdout, stderr);

        Assert.Equal(0, exitCode);
        Assert.Contains("loud.ipynb: warning: cell 1: output cut at 1,048,576 characters (3,151,424 not kept)", stderr.ToString());
        Assert.InRange(new FileInfo(temp.File("out/loud.ipynb")).Length, CellOutputs.MaxChars, 2 * CellOutputs.MaxChars);
        var outputs = Outputs(CodeCells(NotebookFile.Load(temp.File("out/loud.ipynb")))[0]);
        Assert.Equal(CellOutputs.MaxChars, ((string)outputs[0]["text"]!).Length);
        Assert.Equal("\n[workbook run: 3,151,424 more characters of output not kept: a cell keeps 1,048,576]\n", (string)outputs[1]["text"]!);
    }

    [Theory]
    [InlineData("42", "\"source\" must be a string or a list of strings")]
    [InlineData("[\"1\", 2]", "\"source\" must be a string or a list of strings")]
    public void A_cell_whose_source_is_not_text_is_reported_and_the_next_notebook_runs(string source, string message)
    {
        using var temp = new TempFolder();
        var folder = Directory.CreateDirectory(temp.File("notebooks")).FullName;
        var bad = NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell("1"));
        ((JsonObject)bad["cells"]![0]!)["source"] = JsonNode.Parse(source);
        NotebookFile.Save(bad, Path.Combine(folder, "a-bad.ipynb"));
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell("1")), Path.Combine(folder, "b-next.ipynb"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = RunCommand.Execute([folder, "--out", temp.File("out")], stdout, stderr);

        Assert.Equal(1, exitCode);
        Assert.Contains("a-bad.ipynb  not run", stdout.ToString());
        Assert.Contains($"a-bad.ipynb: cannot read the notebook: {Path.Combine(folder, "a-bad.ipynb")}: cell 1 (of all cells): {message}", stderr.ToString());
        Assert.Matches(@"(?m)^b-next\.ipynb  1 cell  0 errors  ", stdout.ToString());
    }
}

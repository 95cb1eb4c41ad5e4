using Workbook.Notebooks;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

public class CommandLineTests
{
    [Fact]
    public void Help_lists_the_commands()
    {
        var (exitCode, stdout, _) = RunWorkbook("help");

        Assert.Equal(0, exitCode);
        Assert.Contains("  run ", stdout);
        Assert.Contains("  help ", stdout);
    }

    [Fact]
    public void An_unknown_command_prints_usage_and_exits_2()
    {
        var (exitCode, _, stderr) = RunWorkbook("frobnicate");

        Assert.Equal(2, exitCode);
        Assert.StartsWith("unknown command 'frobnicate'", stderr);
        Assert.Contains("usage: workbook <command>", stderr);
    }

    [Theory]
    [InlineData("no notebook or folder at 'missing.ipynb'", "missing.ipynb")]
    [InlineData("unknown option '--fast'", "--fast")]
    [InlineData("--out needs a value", "--out")]
    [InlineData("--timeout needs a positive number of seconds, not 'soon'", "--timeout", "soon")]
    public void Run_usage_errors_exit_2(string message, params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        Assert.Equal(2, RunCommand.Execute(args, stdout, stderr));
        Assert.StartsWith($"run: {message}\nusage: workbook run", stderr.ToString());
    }

    [Fact]
    public void A_failing_notebook_is_named_with_its_cell_and_exits_1()
    {
        using var temp = new TempFolder();
        var folder = Directory.CreateDirectory(temp.File("notebooks")).FullName;
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(NotebookFile.CodeCell("1")), Path.Combine(folder, "a-good.ipynb"));
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
                NotebookFile.CodeCell("1"), NotebookFile.CodeCell("throw new Exception(\"boom\\nsecond line\");"), NotebookFile.CodeCell("3")),
            Path.Combine(folder, "b-broken.ipynb"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = RunCommand.Execute([folder, "--out", temp.File("out")], stdout, stderr);

        Assert.Equal(1, exitCode);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^a-good\.ipynb  1 cell  0 errors  \d+\.\d s  -> .*a-good\.ipynb$", lines[0]);
        Assert.Matches(@"^b-broken\.ipynb  2 cells  1 error  \d+\.\d s  stopped at cell 2, 1 cell not run  -> .*b-broken\.ipynb$", lines[1]);
        Assert.Matches(@"^total  2 notebooks  3 cells  1 error  \d+\.\d s$", lines[2]);
        Assert.Equal("b-broken.ipynb: cell 2: System.Exception: boom\n", stderr.ToString());
        Assert.True(File.Exists(temp.File("out/b-broken.ipynb")));
    }

    [Fact]
    public void A_notebook_that_prints_a_false_claim_fails_and_names_it()
    {
        using var temp = new TempFolder();
        var folder = Directory.CreateDirectory(temp.File("notebooks")).FullName;
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
                NotebookFile.MarkdownCell("# claims"),
                NotebookFile.CodeCell("bool two = 1 + 1 == 2;"),
                NotebookFile.CodeCell("""
                    Console.WriteLine($"{(two ? "yes" : "NO ")}  one and one make two");
                    Console.WriteLine($"{(!two ? "yes" : "NO ")}  one and one make three");
                    """)),
            Path.Combine(folder, "claims.ipynb"));
        var (stdout, stderr) = (new StringWriter(), new StringWriter());

        var exitCode = RunCommand.Execute([folder, "--out", temp.File("out")], stdout, stderr);

        Assert.Equal(1, exitCode);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^claims\.ipynb  2 cells  0 errors  1 false claim  \d+\.\d s  -> ", lines[0]);
        Assert.Matches(@"^total  1 notebook  2 cells  1 error  ", lines[1]);
        Assert.Equal("claims.ipynb: cell 2: false claim: NO   one and one make three\n", stderr.ToString());
    }

    [Fact]
    public void Run_restarts_itself_with_dynamic_PGO_off()
    {
        using var temp = new TempFolder();
        NotebookFile.Save(NotebookFile.CreateEmpty().WithCells(
                NotebookFile.CodeCell("Console.WriteLine($\"PGO={Environment.GetEnvironmentVariable(\"DOTNET_TieredPGO\") ?? \"unset\"}\");")),
            temp.File("pgo.ipynb"));
        var environment = new Dictionary<string, string?> { ["DOTNET_TieredPGO"] = null, [Lessons.Posix.Fork.WriteXorExecuteVariable] = "0" };

        var run = RunProcess("dotnet", [WorkbookDll, "run", temp.File("pgo.ipynb"), "--out", temp.File("out")],
            AppContext.BaseDirectory, TimeSpan.FromMinutes(1), environment);
        var printed = Outputs(CodeCells(NotebookFile.Load(temp.File("out/pgo.ipynb")))[0]).Single()["text"]!.ToString();

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("PGO=0\n", printed); // restarted although W^X was already off
    }

    static (int ExitCode, string Stdout, string Stderr) RunWorkbook(params string[] args) =>
        RunProcess("dotnet", [WorkbookDll, .. args], AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

    /// <summary>The CLI as built next to these tests (the SDK copies a referenced program with its runtimeconfig).</summary>
    internal static string WorkbookDll
    {
        get
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "Workbook.dll");
            Assert.True(File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json")), $"{dll} has no runtimeconfig.json next to it");
            return dll;
        }
    }
}

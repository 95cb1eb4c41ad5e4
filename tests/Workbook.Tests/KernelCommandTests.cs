using System.Diagnostics;
using System.Text.Json.Nodes;
using Workbook.Kernel;
using static Workbook.Tests.TestSupport;

namespace Workbook.Tests;

/// <summary><c>workbook kernel install|uninstall</c>: the pinned local tool and the Jupyter kernel spec VS Code lists.</summary>
public sealed class KernelCommandTests
{
    static readonly string[] Argv =
        ["dotnet", "tool", "run", "dotnet-interactive", "--", "jupyter", "--default-kernel", "csharp", "{connection_file}",
            "--http-port-range", "2048-3000"];

    static (int ExitCode, string Stdout, string Stderr) Kernel(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int exitCode = KernelCommand.Execute(args, stdout, stderr);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }

    static JsonObject KernelJson(string kernels) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(kernels, ".net-csharp", "kernel.json")))!.AsObject();

    [Fact]
    public void Install_restores_the_pinned_tool_and_writes_a_spec_that_starts_it_with_WX_off()
    {
        using var temp = new TempFolder();
        var kernels = temp.File("kernels");

        var (exitCode, stdout, stderr) = Kernel("install", "--path", kernels);

        Assert.True(exitCode == 0, stderr);
        var spec = KernelJson(kernels);
        Assert.Equal(Argv, spec["argv"]!.AsArray().Select(a => (string)a!));
        Assert.Equal("0", (string)spec["env"]!["DOTNET_EnableWriteXorExecute"]!);
        Assert.Equal(".NET (C#)", (string)spec["display_name"]!);
        Assert.Equal("C#", (string)spec["language"]!);
        Assert.Null(spec["metadata"]); // no vscode.extension_id naming the deprecated Polyglot extension
        Assert.DoesNotContain("dotnet-interactive-vscode", File.ReadAllText(Path.Combine(kernels, ".net-csharp", "kernel.json")));
        Assert.Contains($"kernel spec: {Path.Combine(kernels, ".net-csharp")}", stdout);
        Assert.Contains("dotnet tool restore: dotnet-interactive 1.0.712001 ready", stdout);
        Assert.Contains("\"DOTNET_EnableWriteXorExecute\": \"0\"", stdout);
        // The restored package holds the logos the tool's own install writes.
        Assert.All(KernelSpec.Logos, logo => Assert.True(File.Exists(Path.Combine(kernels, ".net-csharp", logo)), logo));
    }

    [Fact]
    public void The_repository_pins_the_last_release_as_a_local_tool()
    {
        var root = Repository.FindRoot(AppContext.BaseDirectory)!;
        var text = File.ReadAllText(Path.Combine(root, ".config", "dotnet-tools.json"));

        Assert.Equal(text, KernelSpec.Text(KernelSpec.PinTool(text))); // install leaves the committed manifest as it is
        var tool = JsonNode.Parse(text)!["tools"]!["microsoft.dotnet-interactive"]!;
        Assert.Equal("1.0.712001", (string)tool["version"]!);
        Assert.Equal(["dotnet-interactive"], tool["commands"]!.AsArray().Select(c => (string)c!));
    }

    [Fact]
    public void Uninstall_removes_the_spec_then_has_nothing_to_remove()
    {
        using var temp = new TempFolder();
        var kernels = temp.File("kernels");
        Assert.Equal(0, Kernel("install", "--path", kernels, "--no-restore").ExitCode);
        Assert.True(File.Exists(Path.Combine(kernels, ".net-csharp", "kernel.json")));

        var (exitCode, stdout, _) = Kernel("uninstall", "--path", kernels);

        Assert.Equal(0, exitCode);
        Assert.Equal($"kernel spec: removed {Path.Combine(kernels, ".net-csharp")}\n", stdout);
        Assert.False(Directory.Exists(Path.Combine(kernels, ".net-csharp")));
        Assert.Contains("nothing to remove", Kernel("uninstall", "--path", kernels).Stdout);
    }

    [Theory]
    [InlineData("say install or uninstall")]
    [InlineData("unexpected argument 'frobnicate'", "frobnicate")]
    [InlineData("unexpected argument 'install'", "install", "install")]
    [InlineData("--path needs a value", "install", "--path")]
    [InlineData("unknown option '--fast'", "install", "--fast")]
    [InlineData("--no-restore is an option of install", "uninstall", "--no-restore")]
    public void Bad_arguments_exit_2_with_the_usage(string message, params string[] args)
    {
        var (exitCode, stdout, stderr) = Kernel(args);

        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith($"kernel: {message}\nusage: workbook kernel install", stderr);
    }

    [Fact]
    public void Help_from_the_CLI_exits_0_with_the_usage_and_the_command_table_lists_kernel()
    {
        var (exitCode, stdout, _) = RunProcess("dotnet", [CommandLineTests.WorkbookDll, "kernel", "--help"],
            AppContext.BaseDirectory, TimeSpan.FromMinutes(1));

        Assert.Equal(0, exitCode);
        Assert.StartsWith("usage: workbook kernel install [--path DIR]", stdout);
        Assert.Contains("kernel", Program.Commands.Keys);
    }

    [Theory]
    [InlineData("/j/kernels", "/j", "/x")]
    [InlineData("/x/jupyter/kernels", null, "/x")]
    [InlineData("/x/jupyter/kernels", "", "/x")]
    [InlineData("/home/u/.local/share/jupyter/kernels", null, null)]
    public void The_user_kernels_folder_follows_Jupyter(string expected, string? jupyterDataDir, string? xdgDataHome)
    {
        string? Environment(string name) => name switch
        {
            "JUPYTER_DATA_DIR" => jupyterDataDir,
            "XDG_DATA_HOME" => xdgDataHome,
            _ => null,
        };

        Assert.Equal(expected, KernelSpec.UserKernelsFolder(Environment, "/home/u"));
    }

    [Fact]
    public void Pinning_keeps_the_other_tools_and_replaces_an_older_pin()
    {
        const string existing = """
            { "version": 1, "isRoot": true, "tools": {
              "Microsoft.dotnet-interactive": { "version": "1.0.0", "commands": ["dotnet-interactive"] },
              "dotnet-ef": { "version": "9.0.0", "commands": ["dotnet-ef"] } } }
            """;

        var tools = KernelSpec.PinTool(existing)["tools"]!.AsObject();

        Assert.Equal(["dotnet-ef", "microsoft.dotnet-interactive"], tools.Select(t => t.Key).Order(StringComparer.Ordinal));
        Assert.Equal("1.0.712001", (string)tools["microsoft.dotnet-interactive"]!["version"]!);
    }

    [Fact]
    public async Task A_failing_restore_says_what_failed_and_how_to_retry_and_exits_1()
    {
        // A repository whose only package source is missing, and a fresh home (no NuGet cache, no tool resolver cache).
        using var temp = new TempFolder();
        File.WriteAllText(temp.File(Repository.SolutionFile), "");
        File.WriteAllText(temp.File("nuget.config"), $"""
            <configuration><packageSources><clear /><add key="none" value="{temp.File("no-source")}" /></packageSources></configuration>
            """);
        var start = new ProcessStartInfo("dotnet", [CommandLineTests.WorkbookDll, "kernel", "install", "--path", temp.File("kernels")])
        {
            WorkingDirectory = temp.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["HOME"] = start.Environment["DOTNET_CLI_HOME"] = Directory.CreateDirectory(temp.File("home")).FullName;
        start.Environment.Remove("NUGET_PACKAGES");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "kernel install did not finish within a minute");

        Assert.Equal(1, process.ExitCode);
        Assert.Contains($"kernel: `dotnet tool restore` failed in {temp.Path} (exit 1), so microsoft.dotnet-interactive 1.0.712001", stderr);
        Assert.Contains("then run `dotnet run --project lessons/Workbook -- kernel install` again", stderr);
        Assert.Contains("tool manifest: ", await stdout);
        Assert.True(File.Exists(temp.File(".config/dotnet-tools.json")));
        Assert.False(Directory.Exists(temp.File("kernels")));
    }
}

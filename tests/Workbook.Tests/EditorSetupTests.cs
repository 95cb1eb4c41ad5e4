using System.Text.Json.Nodes;

namespace Workbook.Tests;

/// <summary>The VS Code and dev container files: plain JSON, the extensions and the environment the workbook needs.</summary>
public sealed class EditorSetupTests
{
    static readonly string Root = Repository.FindRoot(AppContext.BaseDirectory)!;

    static JsonObject Load(string path) => JsonNode.Parse(File.ReadAllText(Path.Combine(Root, path)))!.AsObject();

    static string[] Strings(JsonNode? array) => array!.AsArray().Select(n => (string)n!).ToArray();

    const string DevKit = "ms-dotnettools.csdevkit", Polyglot = "ms-dotnettools.dotnet-interactive-vscode";

    [Fact]
    public void Extensions_recommend_the_CSharp_Dev_Kit_and_Polyglot_Notebooks()
    {
        Assert.Equal([DevKit, Polyglot], Strings(Load(".vscode/extensions.json")["recommendations"]));
    }

    [Fact]
    public void Tasks_build_run_the_notebooks_and_test_with_commands_that_exist()
    {
        var tasks = Load(".vscode/tasks.json")["tasks"]!.AsArray().Select(t => t!.AsObject()).ToList();

        Assert.Equal(["build", "run notebooks", "test", "grade exercises"], tasks.Select(t => (string)t["label"]!));
        Assert.All(tasks, t => Assert.Equal("dotnet", (string)t["command"]!));
        var run = Strings(tasks.Single(t => (string)t["label"]! == "run notebooks")["args"]);
        Assert.Contains(run[^1], Program.Commands.Keys);
        Assert.Equal("0", (string)Load(".vscode/tasks.json")["options"]!["env"]!["DOTNET_EnableWriteXorExecute"]!);
    }

    [Fact]
    public void The_dev_container_has_only_NET_10_and_WX_off()
    {
        var container = Load(".devcontainer/devcontainer.json");
        var dotnet = container["features"]!["ghcr.io/devcontainers/features/dotnet:2"]!;

        Assert.Equal("10.0", (string)dotnet["version"]!);
        Assert.Null(dotnet["additionalVersions"]);
        Assert.Equal("0", (string)container["containerEnv"]!["DOTNET_EnableWriteXorExecute"]!);
        Assert.Equal([DevKit, Polyglot], Strings(container["customizations"]!["vscode"]!["extensions"]));
    }
}

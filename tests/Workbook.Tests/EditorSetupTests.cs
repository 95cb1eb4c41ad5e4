using System.Text.Json.Nodes;

namespace Workbook.Tests;

/// <summary>The VS Code and dev container files: plain JSON, the extensions and the environment the workbook needs.</summary>
public sealed class EditorSetupTests
{
    static readonly string Root = Repository.FindRoot(AppContext.BaseDirectory)!;

    static JsonObject Load(string path) => JsonNode.Parse(File.ReadAllText(Path.Combine(Root, path)))!.AsObject();

    static string[] Strings(JsonNode? array) => array!.AsArray().Select(n => (string)n!).ToArray();

    const string DevKit = "ms-dotnettools.csdevkit", Jupyter = "ms-toolsai.jupyter", Renderers = "ms-toolsai.vscode-jupyter-renderers";

    [Fact]
    public void Extensions_recommend_the_CSharp_Dev_Kit_and_the_Jupyter_extension_with_its_renderers()
    {
        Assert.Equal([DevKit, Jupyter, Renderers], Strings(Load(".vscode/extensions.json")["recommendations"]));
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
    public void The_dev_container_has_only_NET_10_WX_off_the_Jupyter_extension_and_installs_the_kernel()
    {
        var container = Load(".devcontainer/devcontainer.json");
        var dotnet = container["features"]!["ghcr.io/devcontainers/features/dotnet:2"]!;

        Assert.Equal("10.0", (string)dotnet["version"]!);
        Assert.Null(dotnet["additionalVersions"]);
        Assert.Equal("0", (string)container["containerEnv"]!["DOTNET_EnableWriteXorExecute"]!);
        Assert.Equal([DevKit, Jupyter, Renderers], Strings(container["customizations"]!["vscode"]!["extensions"]));
        var postCreate = (string)container["postCreateCommand"]!;
        Assert.EndsWith("dotnet build Lessons.sln && dotnet run --project lessons/Workbook -- kernel install", postCreate);
        Assert.Contains("kernel", Program.Commands.Keys);
    }
}

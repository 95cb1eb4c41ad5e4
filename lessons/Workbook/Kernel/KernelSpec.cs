using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Workbook.Kernel;

/// <summary>
/// The notebooks' Jupyter kernel: the .NET Interactive tool pinned at its last release (the project is archived) as a
/// local tool of the repository, and the kernel spec that starts it with W^X off.
/// </summary>
static class KernelSpec
{
    /// <summary>The spec's folder name, as the notebooks' <c>metadata.kernelspec.name</c> says.</summary>
    public const string Name = ".net-csharp";

    /// <summary>The display name VS Code and Jupyter show, as the notebooks' metadata says.</summary>
    public const string DisplayName = ".NET (C#)";

    public const string Language = "C#";

    public const string ToolPackage = "microsoft.dotnet-interactive", ToolVersion = "1.0.712001", ToolCommand = "dotnet-interactive";

    /// <summary>The repository's tool manifest, relative to its root.</summary>
    public static readonly string ManifestPath = Path.Combine(".config", "dotnet-tools.json");

    /// <summary>The logos <c>dotnet-interactive jupyter install</c> writes next to kernel.json, found in the tool's package.</summary>
    public static readonly string[] Logos = ["logo-32x32.png", "logo-64x64.png"];

    /// <summary>
    /// The spec. The arguments after <c>jupyter</c> are those of the tool's own spec; <c>dotnet tool run</c> finds the
    /// manifest from the kernel's working directory (the notebook's folder) upward, so it runs the pinned version.
    /// </summary>
    public static JsonObject Json() => new()
    {
        ["argv"] = new JsonArray("dotnet", "tool", "run", ToolCommand, "--",
            "jupyter", "--default-kernel", "csharp", "{connection_file}", "--http-port-range", "2048-3000"),
        ["display_name"] = DisplayName,
        ["language"] = Language,
        // Lessons 06 and 08 fork, which needs W^X off before the runtime starts.
        ["env"] = new JsonObject { [Lessons.Posix.Fork.WriteXorExecuteVariable] = "0" },
        // No metadata.vscode.extension_id: vscode-jupyter hid a spec whose named extension was installed (filterKernels in
        // src/client/datascience/kernel-launcher/localKernelFinder.ts) until PR #8759 (2022); a missing one never hid it.
    };

    static readonly JsonSerializerOptions WriteOptions = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>JSON as written to disk: indented by two spaces, one final newline.</summary>
    public static string Text(JsonNode node) => node.ToJsonString(WriteOptions) + "\n";

    /// <summary>
    /// The user's Jupyter kernels folder, where Jupyter and VS Code look: <c>$JUPYTER_DATA_DIR/kernels</c>, else
    /// <c>$XDG_DATA_HOME/jupyter/kernels</c>, else <c>~/.local/share/jupyter/kernels</c>.
    /// </summary>
    public static string UserKernelsFolder(Func<string, string?> environment, string home)
    {
        static string? Set(string? value) => string.IsNullOrEmpty(value) ? null : value;
        if (Set(environment("JUPYTER_DATA_DIR")) is { } data)
            return Path.Combine(data, "kernels");
        return Path.Combine(Set(environment("XDG_DATA_HOME")) ?? Path.Combine(home, ".local", "share"), "jupyter", "kernels");
    }

    /// <summary>
    /// The manifest <paramref name="existing"/> (null when there is none) with the kernel's tool pinned, other tools kept.
    /// </summary>
    public static JsonObject PinTool(string? existing)
    {
        var manifest = existing is null ? [] : JsonNode.Parse(existing)?.AsObject() ?? throw new JsonException("the manifest is not a JSON object");
        manifest["version"] ??= 1;
        manifest["isRoot"] ??= true;
        if (manifest["tools"] is not JsonObject tools)
            manifest["tools"] = tools = [];
        foreach (var other in tools.Select(t => t.Key).Where(IsTool).ToList())
            tools.Remove(other);
        tools[ToolPackage] = new JsonObject
        {
            ["version"] = ToolVersion,
            ["commands"] = new JsonArray(ToolCommand),
            ["rollForward"] = false,
        };
        return manifest;
    }

    static bool IsTool(string package) => string.Equals(package, ToolPackage, StringComparison.OrdinalIgnoreCase);

    /// <summary>The resources folder of the tool's package in NuGet's global packages folder.</summary>
    public static string PackageResources(string globalPackages) =>
        Path.Combine(globalPackages, ToolPackage, ToolVersion, "tools", "net10.0", "any", "resources");
}

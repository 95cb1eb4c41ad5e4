using System.ComponentModel;
using System.Diagnostics;

namespace Workbook.Kernel;

/// <summary>
/// <c>workbook kernel install|uninstall</c>: pins the .NET Interactive kernel as a local tool of the repository and
/// writes (or removes) its Jupyter kernel spec, which VS Code's Jupyter extension lists as ".NET (C#)".
/// </summary>
static class KernelCommand
{
    const string Usage = "usage: workbook kernel install [--path DIR] [--no-restore] | workbook kernel uninstall [--path DIR]\n"
        + "  --path DIR     the Jupyter kernels folder to write into (default: $JUPYTER_DATA_DIR/kernels, else\n"
        + "                 $XDG_DATA_HOME/jupyter/kernels, else ~/.local/share/jupyter/kernels)\n"
        + "  --no-restore   skip `dotnet tool restore` (the pinned tool must be restored already)";

    public static int Execute(string[] args) => Execute(args, Console.Out, Console.Error);

    public static int Execute(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? action = null, path = null;
        bool restore = true;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "-h" or "--help": stdout.WriteLine(Usage); return 0;
                    case "install" or "uninstall" when action is null: action = args[i]; break;
                    case "--path": path = Value(); break;
                    case "--no-restore": restore = false; break;
                    default: throw new ArgumentException(args[i].StartsWith('-') ? $"unknown option '{args[i]}'" : $"unexpected argument '{args[i]}'");
                }
            }
            if (action is null)
                throw new ArgumentException("say install or uninstall");
            if (action == "uninstall" && !restore)
                throw new ArgumentException("--no-restore is an option of install");
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"kernel: {e.Message}");
            stderr.WriteLine(Usage);
            return 2;
        }

        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string spec = Path.Combine(Path.GetFullPath(path ?? KernelSpec.UserKernelsFolder(Environment.GetEnvironmentVariable, home)), KernelSpec.Name);
        return action == "install" ? Install(spec, restore, home, stdout, stderr) : Uninstall(spec, stdout);
    }

    static int Install(string spec, bool restore, string home, TextWriter stdout, TextWriter stderr)
    {
        // From the repository (dotnet run), else from this build inside it.
        string? root = Repository.FindRoot() ?? Repository.FindRoot(AppContext.BaseDirectory);
        if (root is null)
        {
            stderr.WriteLine($"kernel: no {Repository.SolutionFile} here or above; run this from the repository");
            return 1;
        }

        string manifest = Path.Combine(root, KernelSpec.ManifestPath);
        string? existing = File.Exists(manifest) ? File.ReadAllText(manifest) : null;
        string pinned = KernelSpec.Text(KernelSpec.PinTool(existing));
        if (pinned != existing)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(manifest)!);
            File.WriteAllText(manifest, pinned);
        }
        stdout.WriteLine($"tool manifest: {manifest} ({KernelSpec.ToolPackage} {KernelSpec.ToolVersion}, {(pinned == existing ? "unchanged" : "written")})");

        if (restore)
        {
            var (exit, output) = RunDotnet(root, "tool", "restore");
            if (exit != 0)
            {
                stderr.WriteLine(output.TrimEnd());
                stderr.WriteLine($"kernel: `dotnet tool restore` failed in {root} ({(exit < 0 ? "could not start dotnet" : $"exit {exit}")}), "
                    + $"so {KernelSpec.ToolPackage} {KernelSpec.ToolVersion} is not installed and no kernel spec was written.");
                stderr.WriteLine("kernel: check that NuGet (https://api.nuget.org) is reachable, then run "
                    + "`dotnet run --project lessons/Workbook -- kernel install` again (or `dotnet tool restore` by hand).");
                return 1;
            }
            stdout.WriteLine($"dotnet tool restore: {KernelSpec.ToolCommand} {KernelSpec.ToolVersion} ready");
        }

        if (Directory.Exists(spec))
            Directory.Delete(spec, recursive: true);
        Directory.CreateDirectory(spec);
        string json = KernelSpec.Text(KernelSpec.Json());
        File.WriteAllText(Path.Combine(spec, "kernel.json"), json);
        string resources = KernelSpec.PackageResources(GlobalPackagesFolder(root, home));
        var logos = KernelSpec.Logos.Where(logo => File.Exists(Path.Combine(resources, logo))).ToList();
        foreach (var logo in logos)
            File.WriteAllBytes(Path.Combine(spec, logo), File.ReadAllBytes(Path.Combine(resources, logo)));

        stdout.WriteLine($"kernel spec: {spec}");
        stdout.WriteLine($"  files: {string.Join(", ", ["kernel.json", .. logos])}{(logos.Count == 0 ? $" (no logos in {resources})" : "")}");
        stdout.WriteLine($"kernel.json:\n{json.TrimEnd()}");
        stdout.WriteLine($"Open a notebook of this repository in VS Code's Jupyter extension and pick the \"{KernelSpec.DisplayName}\" kernel.");
        return 0;
    }

    static int Uninstall(string spec, TextWriter stdout)
    {
        if (!Directory.Exists(spec))
        {
            stdout.WriteLine($"kernel spec: {spec} is absent, nothing to remove");
            return 0;
        }
        Directory.Delete(spec, recursive: true);
        stdout.WriteLine($"kernel spec: removed {spec}");
        return 0;
    }

    // Where NuGet (and so `dotnet tool restore`) unpacks packages for this repository: as NuGet says, else its default.
    static string GlobalPackagesFolder(string root, string home)
    {
        const string Prefix = "global-packages: ";
        var (exit, output) = RunDotnet(root, "nuget", "locals", "global-packages", "--list");
        string? line = exit == 0 ? output.Split('\n').FirstOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal)) : null;
        return line is not null ? line[Prefix.Length..].Trim()
            : Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } packages ? packages
            : Path.Combine(home, ".nuget", "packages");
    }

    // Runs dotnet in folder; its stdout and stderr together, exit -1 when it cannot start.
    static (int Exit, string Output) RunDotnet(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout + stderr.Result);
        }
        catch (Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}

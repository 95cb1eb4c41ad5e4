using System.Diagnostics;
using System.Runtime.InteropServices;
using Xunit.Abstractions;
using Xunit.Sdk;

// One way for every test project to say that a test needs a tool from scripts/setup-test-tools.sh (or a
// processor lesson 06 writes code for). Linked into each test project that needs it:
//   <Compile Include="..\Shared\RequiresTool.cs" Link="Shared\RequiresTool.cs" />
// with the project's RequiresToolAssembly constant defined (see TestToolsAssembly below).

namespace TestTools;

/// <summary>What a test may need that is not part of the .NET SDK.</summary>
public enum Tool
{
    /// <summary>Headless Chromium (/usr/bin/chromium, or $CHROMIUM) and plotly.js in .tools/ (npm plotly.js-dist-min).</summary>
    Browser,

    /// <summary>Debian's python3-nbformat: <c>/usr/bin/python3 -c "import nbformat"</c>.</summary>
    Nbformat,

    /// <summary>
    /// Debian's jupyter-nbconvert and python3-nbclient, to execute notebooks in a real Jupyter kernel:
    /// <c>/usr/bin/jupyter-nbconvert</c> and <c>/usr/bin/python3 -c "import nbclient"</c>.
    /// </summary>
    Jupyter,

    /// <summary>A C compiler (cc, gcc or clang in /usr/bin) with the libc headers.</summary>
    CCompiler,

    /// <summary>A processor lesson 06 writes machine code for: x86-64 or arm64.</summary>
    MachineCode,

    /// <summary>Valgrind (valgrind on PATH), which lesson 02 runs the lecture's C programs under.</summary>
    Valgrind,

    /// <summary>strace (strace on PATH), which lesson 03 runs the lecture's C program under.</summary>
    Strace,

    /// <summary>Root and util-linux's setpriv on PATH: lesson 10 runs a C program as the unprivileged user nobody.</summary>
    RootSetpriv,

    /// <summary>Info-ZIP's unzip on PATH: the instructor guide unpacks the Gradescope autograder with it.</summary>
    Unzip,
    /// <summary>Python 3 (/usr/bin/python3), which runs the Classroom 50 autograder a release writes.</summary>
    Python3,
}

/// <summary>Where the tools are, and why one is missing.</summary>
public static class TestTool
{
    public const string SetupScript = "scripts/setup-test-tools.sh";

    /// <summary>The environment variable CI is set (CI=true): a missing tool fails the test instead of skipping it.</summary>
    public static bool InCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public static string ChromiumPath { get; } = Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string PlotlyPackagePath { get; } = Path.Combine(RepoRoot, ".tools", "node_modules", "plotly.js-dist-min");

    public static string PlotlyJsPath { get; } = Path.Combine(PlotlyPackagePath, "plotly.min.js");

    public const string Python = "/usr/bin/python3";

    public const string NbconvertPath = "/usr/bin/jupyter-nbconvert";

    /// <summary>The C compiler's path, or null.</summary>
    public static string? CCompilerPath { get; } = new[] { "/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang" }.FirstOrDefault(File.Exists);

    static readonly Lazy<string?> Browser = new(() =>
        !File.Exists(ChromiumPath) ? $"Chromium is missing ({ChromiumPath}): run {SetupScript}"
        : !File.Exists(PlotlyJsPath) ? $"plotly.js is missing ({PlotlyJsPath}): run {SetupScript}"
        : null);

    static readonly Lazy<string?> Nbformat = new(() =>
        PythonImports("nbformat") ? null : $"Debian's python3-nbformat is missing: run {SetupScript}");

    static readonly Lazy<string?> Jupyter = new(() =>
        File.Exists(NbconvertPath) && PythonImports("nbclient") ? null
        : $"Debian's jupyter-nbconvert or python3-nbclient is missing ({NbconvertPath}, {Python} -c \"import nbclient\"): run {SetupScript}");

    /// <summary>Whether <see cref="Python"/> can import <paramref name="module"/>.</summary>
    static bool PythonImports(string module)
    {
        if (!File.Exists(Python)) return false;
        using var p = Process.Start(new ProcessStartInfo(Python, ["-c", $"import {module}"]) { RedirectStandardError = true })!;
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    static readonly Lazy<string?> CCompiler = new(() =>
        CCompilerPath is null ? $"no C compiler (cc, gcc or clang in /usr/bin): run {SetupScript}" : null);

    /// <summary>The first file named <paramref name="tool"/> in a folder of PATH, or null.</summary>
    public static string? OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool)).FirstOrDefault(File.Exists);

    static readonly Lazy<string?> Valgrind = new(() =>
        OnPath("valgrind") is null ? $"valgrind is not on PATH: run {SetupScript}" : null);

    static readonly Lazy<string?> Strace = new(() =>
        OnPath("strace") is null ? $"strace is not on PATH: run {SetupScript}" : null);

    static readonly Lazy<string?> RootSetpriv = new(() =>
        !Environment.IsPrivilegedProcess ? "needs root, to run a program as nobody with setpriv (run the tests as root, as CI does)"
        : OnPath("setpriv") is null ? "setpriv (util-linux) is not on PATH" : null);

    static readonly Lazy<string?> Unzip = new(() =>
        OnPath("unzip") is null ? $"unzip is not on PATH: run {SetupScript}" : null);

    static readonly Lazy<string?> MachineCode = new(() =>
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64 ? null
        : $"lesson 06 writes machine code for x86-64 and arm64 only; this is {RuntimeInformation.ProcessArchitecture} " +
          $"({SetupScript} cannot install a processor: run these tests on x86-64 or arm64)");

    /// <summary>Why <paramref name="tool"/> cannot be used here (naming the set-up script), or null when it can.</summary>
    public static string? MissingReason(Tool tool) => tool switch
    {
        Tool.Browser => Browser.Value,
        Tool.Nbformat => Nbformat.Value,
        Tool.Jupyter => Jupyter.Value,
        Tool.CCompiler => CCompiler.Value,
        Tool.MachineCode => MachineCode.Value,
        Tool.Valgrind => Valgrind.Value,
        Tool.Strace => Strace.Value,
        Tool.RootSetpriv => RootSetpriv.Value,
        Tool.Unzip => Unzip.Value,
        Tool.Python3 => File.Exists(Python) ? null : $"{Python} is missing: run {SetupScript}",
        _ => throw new ArgumentOutOfRangeException(nameof(tool), tool, null),
    };

    /// <summary>Why any of <paramref name="tools"/> cannot be used, or null when all can.</summary>
    public static string? MissingReason(IEnumerable<Tool> tools)
    {
        var reasons = tools.Select(MissingReason).OfType<string>().ToList();
        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    /// <summary>Fails the test when <paramref name="tool"/> is missing (for helpers used outside a [RequiresTool] test).</summary>
    public static void Require(Tool tool)
    {
        if (MissingReason(tool) is { } reason)
            Assert.Fail(reason);
    }

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Lessons.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No Lessons.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>
/// A fact that needs <see cref="Tool"/>s. Where one is missing the test is skipped with the reason (naming
/// scripts/setup-test-tools.sh); when the environment variable CI is set it fails with that reason instead, so
/// CI never passes a test that did not run. (xunit 2 has no dynamic skip: the constructor sets Skip.)
/// </summary>
[XunitTestCaseDiscoverer("TestTools.RequiresToolDiscoverer", TestToolsAssembly.Name)]
[AttributeUsage(AttributeTargets.Method)]
public sealed class RequiresToolAttribute : FactAttribute
{
    public RequiresToolAttribute(params Tool[] tools)
    {
        Tools = tools;
        if (TestTool.MissingReason(tools) is { } reason && !TestTool.InCi)
            Skip = reason;
    }

    public IReadOnlyList<Tool> Tools { get; }
}

/// <summary>Under CI, a [RequiresTool] test whose tool is missing becomes a failing test case carrying the reason.</summary>
public sealed class RequiresToolDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var tools = (factAttribute as IReflectionAttributeInfo)?.Attribute is RequiresToolAttribute attribute
            ? attribute.Tools
            : factAttribute.GetConstructorArguments().OfType<Tool[]>().SingleOrDefault() ?? [];
        if (TestTool.InCi && TestTool.MissingReason(tools) is { } reason)
            return [new ExecutionErrorTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
                discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, $"CI is set and a required tool is missing: {reason}")];
        return base.Discover(discoveryOptions, testMethod, factAttribute);
    }
}

/// <summary>The name of the test assembly this file is compiled into: xunit finds the discoverer by it.</summary>
static class TestToolsAssembly
{
#if LESSONS_TESTS
    public const string Name = "Lessons.Tests";
#elif WORKBOOK_TESTS
    public const string Name = "Workbook.Tests";
#elif EXERCISES_TESTS
    public const string Name = "Exercises.Tests";
#else
#error Define LESSONS_TESTS, WORKBOOK_TESTS or EXERCISES_TESTS in the test project that links RequiresTool.cs.
#endif
}

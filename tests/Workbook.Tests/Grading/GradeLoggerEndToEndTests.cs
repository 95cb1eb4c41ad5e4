using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Grading.Tests;

/// <summary>Runs `dotnet test` on a generated project with one passing and one failing graded test.</summary>
public sealed class GradeLoggerEndToEndTests : IDisposable
{
    readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("grading-e2e-");

    public void Dispose() => dir.Delete(recursive: true);

    [Fact]
    public void A_failing_graded_test_counts_zero_and_fails_the_run()
    {
        var repo = RepoRoot();
        foreach (var file in new[] { "global.json", "nuget.config", "Directory.Packages.props" })
            File.Copy(Path.Combine(repo, file), Path.Combine(dir.FullName, file));
        Write("Directory.Build.props", """
            <Project>
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally>
              </PropertyGroup>
            </Project>
            """);
        Write("E2e.csproj", $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <IsTestProject>true</IsTestProject>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.NET.Test.Sdk" />
                <PackageReference Include="xunit" />
                <PackageReference Include="xunit.runner.visualstudio" />
                <Reference Include="Grading.TestLogger" HintPath="{typeof(GradeLogger).Assembly.Location}" />
              </ItemGroup>
            </Project>
            """);
        Write("SampleTests.cs", """
            using Grading;
            using Xunit;

            public class SampleTests
            {
                [Fact, Graded(lesson: 1, points: 2)]
                public void Passes() => Assert.True(true);

                [Fact, Graded(lesson: 1, points: 3)]
                public void Fails() => Assert.Equal(1, 2);
            }
            """);
        var json = Path.Combine(dir.FullName, "grades.json");

        var (exitCode, output) = Run("test", "--disable-build-servers", "--logger", $"grade;json={json}");

        Assert.True(exitCode != 0, output);
        Assert.Matches(new Regex(@"^01\s+1/2\s+2/5$", RegexOptions.Multiline), output);
        Assert.Matches(new Regex(@"^Total\s+1/2\s+2/5$", RegexOptions.Multiline), output);
        using var grades = JsonDocument.Parse(File.ReadAllText(json));
        var fails = grades.RootElement.GetProperty("tests").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "SampleTests.Fails");
        Assert.Equal(0, fails.GetProperty("points").GetInt32());
        Assert.Equal("Failed", fails.GetProperty("outcome").GetString());
        // The results so far, kept while the run goes on (what a run killed at a time limit leaves), end up complete too.
        Assert.Equal(File.ReadAllText(json), File.ReadAllText(json + GradeLogger.PartialSuffix));
    }

    void Write(string name, string text) => File.WriteAllText(Path.Combine(dir.FullName, name), text);

    (int ExitCode, string Output) Run(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", args)
        {
            WorkingDirectory = dir.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("dotnet test did not finish within 2 minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Lessons.sln")))
                return d.FullName;
        throw new InvalidOperationException("Lessons.sln not found above " + AppContext.BaseDirectory);
    }
}

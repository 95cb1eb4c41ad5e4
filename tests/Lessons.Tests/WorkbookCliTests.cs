using TestTools;

namespace Lessons.Tests;

[Collection(ProcessWideState.Name)] // one test sets an environment variable of the test host
public class WorkbookCliTests
{
    static string Touch(string path, DateTime when)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
        File.SetLastWriteTimeUtc(path, when);
        return path;
    }

    [Fact]
    public void The_newest_build_of_any_configuration_is_found_beside_the_library()
    {
        var root = Directory.CreateTempSubdirectory("workbook-cli-").FullName;
        try
        {
            string library = Path.Combine(root, "lessons", "Lessons", "bin");
            Directory.CreateDirectory(library);
            Assert.Null(WorkbookCli.FindBuilt(library));

            string release = Path.Combine(root, "lessons", "Workbook", "bin", "Release", "net10.0", "Workbook.dll");
            Touch(release, DateTime.UtcNow.AddMinutes(-5));
            Assert.Null(WorkbookCli.FindBuilt(library)); // no runtimeconfig: not a runnable build
            Touch(Path.ChangeExtension(release, ".runtimeconfig.json"), DateTime.UtcNow);
            Assert.Equal(release, WorkbookCli.FindBuilt(library));

            string debug = Path.Combine(root, "lessons", "Workbook", "bin", "Debug", "net10.0", "Workbook.dll");
            Touch(Path.ChangeExtension(debug, ".runtimeconfig.json"), DateTime.UtcNow);
            Touch(debug, DateTime.UtcNow.AddMinutes(-10));
            Assert.Equal(release, WorkbookCli.FindBuilt(library)); // the newer of the two
            File.SetLastWriteTimeUtc(debug, DateTime.UtcNow.AddMinutes(1));
            Assert.Equal(debug, WorkbookCli.FindBuilt(library));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void A_location_variable_naming_no_file_is_a_clear_error()
    {
        string? before = Environment.GetEnvironmentVariable(WorkbookCli.LocationVariable);
        try
        {
            Environment.SetEnvironmentVariable(WorkbookCli.LocationVariable, "/nonexistent/Workbook.dll");
            var e = Assert.Throws<FileNotFoundException>(() => WorkbookCli.Location);
            Assert.Contains("WORKBOOK_CLI names /nonexistent/Workbook.dll", e.Message);
        }
        finally { Environment.SetEnvironmentVariable(WorkbookCli.LocationVariable, before); }
    }
}

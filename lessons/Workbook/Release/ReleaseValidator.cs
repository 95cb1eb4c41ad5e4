namespace Workbook.Release;

/// <summary>
/// Proves a release works: the student copy builds, every graded test in it fails with its "not implemented" stub
/// message (and none is hidden), no marker or hidden file is left in it, and the instructor's solutions score full marks.
/// </summary>
public static class ReleaseValidator
{
    /// <summary>The problems found (empty: the release is good). Progress goes to <paramref name="log"/>.</summary>
    public static IReadOnlyList<string> Validate(string instructorRoot, string release, TextWriter log)
    {
        var problems = new List<string>();
        var everywhere = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true };
        foreach (var file in Directory.EnumerateFiles(release, "*.cs", everywhere))
        {
            if (File.ReadLines(file).Any(line => line.Trim() is Markers.BeginSolution or Markers.BeginHidden))
                problems.Add($"{Path.GetRelativePath(release, file)} still holds a marker");
        }
        foreach (var path in StudentRelease.InstructorOnly)
            if (File.Exists(Path.Combine(release, path)) || Directory.Exists(Path.Combine(release, path)))
                problems.Add($"{path} is instructor-only but is in the release");

        log.WriteLine("building the student copy (dotnet build Lessons.sln) …");
        var (exit, output) = Grader.Dotnet(release, "build", Repository.SolutionFile, "--disable-build-servers");
        if (exit != 0)
        {
            problems.Add($"the student copy does not build:\n{string.Join('\n', output.Split('\n').TakeLast(40))}");
            return problems;
        }
        log.WriteLine("running its graded tests (all must fail with the stub's message) …");
        var (tests, testOutput) = Grader.RunGradedTests(release, noBuild: true);
        if (tests is null)
            problems.Add($"the student copy's graded tests did not run:\n{testOutput}");
        else
        {
            if (tests.Count == 0)
                problems.Add("the student copy has no graded test");
            foreach (var t in tests)
            {
                if (t.Hidden)
                    problems.Add($"hidden test {t.Name} is in the student copy");
                if (t.Passed)
                    problems.Add($"{t.Name} passes in the student copy (a test that passes on the stubs grades nothing)");
                else if (t.Message is null || !t.Message.Contains(Markers.NotImplemented, StringComparison.Ordinal))
                    problems.Add($"{t.Name} fails, but not with the stub's message: {t.Message}");
            }
            log.WriteLine($"  {tests.Count} graded tests, {tests.Count(t => !t.Passed)} failing, {tests.Sum(t => t.Points)}/{tests.Sum(t => t.Max)} points");
        }
        log.WriteLine("grading the instructor's solutions (full marks expected) …");
        var instructor = Grader.Grade(instructorRoot, instructorRoot, manifest: null);
        log.Write(GradeOutputs.Table(instructor));
        if (instructor.BuildLog is not null || instructor.Earned != instructor.Possible || instructor.Possible == 0)
            problems.Add($"the instructor's solutions score {instructor.Earned}/{instructor.Possible}, not full marks: "
                + string.Join("; ", instructor.Tests.Where(t => !t.Passed).Select(t => $"{t.ShortName}: {t.Message}")) + instructor.BuildLog);
        return problems;
    }
}

namespace Lessons;

/// <summary>
/// The last cell of every notebook: <c>ExerciseCheck.Run(NN)</c> runs <c>workbook check NN</c> (lesson NN's visible
/// graded tests on the exercises as they are) in a child process, so an exercise that crashes or hangs cannot take the
/// kernel down, and prints its report: each test with its points, and each failure's message. Failing tests are the
/// report, not an error of the cell.
/// </summary>
public static class ExerciseCheck
{
    /// <summary>How long the check may take, a build of the tests included; then it is killed.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(110);

    public static void Run(int lesson)
    {
        try
        {
            var run = WorkbookCli.Run(["check", $"{lesson:00}"], timeout: Timeout);
            Console.Write(run.Stdout);
            if (run.ExitCode is not (0 or 1) || run.Stderr.Length > 0)
                Console.WriteLine($"NO   the check ran (exit code {run.ExitCode}): {run.Stderr.Trim()}");
        }
        catch (Exception e) when (e is FileNotFoundException or TimeoutException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            Console.WriteLine($"NO   the check ran: {e.Message}");
        }
    }
}

using System.Text;
using Workbook.Release;

namespace Workbook.Tests.Release;

public sealed class ClassroomWorkflowTests
{
    [Fact]
    public void One_grader_step_per_lesson_worth_its_points_and_the_reporter_naming_them_all()
    {
        var files = new Dictionary<string, byte[]>
        {
            ["tests/Exercises.Tests/Ex01Tests.cs"] = Encoding.UTF8.GetBytes("[Fact, Graded(lesson: 1, points: 2)]\n[Theory, Graded(lesson: 1, points: 3)]"),
            ["tests/Exercises.Tests/Ex07Tests.cs"] = Encoding.UTF8.GetBytes("[Fact, Graded(lesson: 7, points: 4)]"),
            ["tests/Lessons.Tests/Other.cs"] = Encoding.UTF8.GetBytes("[Fact, Graded(lesson: 9, points: 9)]"),
        };

        var workflow = ClassroomWorkflow.Generate(files);

        Assert.Contains("command: dotnet test tests/Exercises.Tests --no-build --filter Lesson=01\n          timeout: 10\n          max-score: 5\n", workflow);
        Assert.Contains("--filter Lesson=07\n          timeout: 10\n          max-score: 4\n", workflow);
        Assert.DoesNotContain("Lesson=09", workflow);
        Assert.Contains("LESSON-07_RESULTS: \"${{steps.lesson-07.outputs.result}}\"", workflow);
        Assert.EndsWith("runners: lesson-01,lesson-07\n", workflow);
    }
}

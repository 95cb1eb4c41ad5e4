using System.Text;
using Workbook.Release;

namespace Workbook.Tests.Release;

public class GradedSourcesTests
{
    [Fact]
    public void A_file_with_two_test_classes_names_each_test_by_its_own_class()
    {
        const string text = """
            namespace Exercises.Tests;

            public class Ex05FirstTests
            {
                [Fact, Graded(lesson: 5, points: 2)]
                public void One() { }

                sealed class Helper { }
            }

            [Collection("x")]
            public class Ex05SecondTests
            {
                [Fact, Graded(lesson: 5, points: 3, Hidden = true)]
                public void Two() { }
            }
            """;
        var tests = GradedSources.Tests(new Dictionary<string, byte[]> { ["tests/Exercises.Tests/Ex05Two.cs"] = Encoding.UTF8.GetBytes(text) });
        Assert.Equal(["Exercises.Tests.Ex05FirstTests.One", "Exercises.Tests.Ex05SecondTests.Two"], tests.Select(t => t.Name));
        Assert.Equal([false, true], tests.Select(t => t.Hidden));
    }
}

using Workbook.Release;

namespace Workbook.Tests.Release;

public sealed class MarkersTests
{
    const string Source = """
        public static class Ex09Sample
        {
            /// <summary>
            /// Exercise 09.1: doubles x.
            /// </summary>
            public static int Double(int x)
            {
                // BEGIN SOLUTION
                return 2 * x;
                // END SOLUTION
            }

            /// <summary>Solution helper.</summary>
            static int Helper<T>(T value)
            {
                // BEGIN SOLUTION
                return 0;
                // END SOLUTION
            }
        }
        """;

    [Fact]
    public void A_solution_becomes_a_stub_naming_the_exercise()
    {
        var student = Markers.Strip(Source, "lessons/Exercises/Ex09Sample.cs");

        Assert.DoesNotContain("2 * x", student);
        Assert.DoesNotContain("SOLUTION", student);
        Assert.Contains("        throw new NotImplementedException(\"Exercise 09.1 (Double): not implemented yet\");\n", student);
        Assert.Contains("throw new NotImplementedException(\"Exercise 09 (Helper): not implemented yet\");", student);
    }

    [Fact]
    public void Hidden_tests_disappear()
    {
        var student = Markers.Strip("class T\n{\n    [Fact] public void A() { }\n    // BEGIN HIDDEN TESTS\n    [Fact] public void B() { }\n    // END HIDDEN TESTS\n}\n", "T.cs");

        Assert.Equal("class T\n{\n    [Fact] public void A() { }\n}\n", student);
    }

    [Theory]
    [InlineData("a\n// BEGIN SOLUTION\nb\n", 2, "never closed")]
    [InlineData("a\nb\n    // END SOLUTION\n", 3, "without a '// BEGIN SOLUTION'")]
    [InlineData("// BEGIN HIDDEN TESTS\n// BEGIN SOLUTION\n// END SOLUTION\n// END HIDDEN TESTS\n", 2, "cannot nest")]
    [InlineData("// BEGIN SOLUTION\n// END HIDDEN TESTS\n", 2, "closes the region opened by '// BEGIN SOLUTION' at line 1")]
    [InlineData("// BEGIN SOLUTIONS\n", 1, "unknown marker")]
    public void A_malformed_marker_names_its_file_and_line(string text, int line, string message)
    {
        var error = Assert.Throws<MarkerException>(() => Markers.Strip(text, "lessons/Exercises/Ex09Bad.cs"));

        Assert.Equal(line, error.Line);
        Assert.StartsWith($"lessons/Exercises/Ex09Bad.cs:{line}: ", error.Message);
        Assert.Contains(message, error.Message);
    }
}

using Xunit.Sdk;

namespace Grading;

/// <summary>
/// Marks a [Fact] or [Theory] as graded: <c>[Fact, Graded(lesson: 1, points: 2)]</c>.
/// It becomes the traits <c>Graded=true</c>, <c>Lesson=01</c>, <c>Points=2</c> (and <c>Hidden=true</c>),
/// which the "grade" logger reads and <c>dotnet test --filter Lesson=01</c> can select.
/// A theory is worth its points once, whatever the number of its cases (see <see cref="GradeReport"/>).
/// </summary>
[TraitDiscoverer("Grading.GradedTraitDiscoverer", "Grading.TestLogger")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class GradedAttribute : Attribute, ITraitAttribute
{
    public GradedAttribute(int lesson, int points)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(lesson, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(lesson, 99);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(points);
        Lesson = lesson;
        Points = points;
    }

    public int Lesson { get; }

    public int Points { get; }

    /// <summary>A hidden test: removed from the student copy, run only by the autograder.</summary>
    public bool Hidden { get; set; }
}

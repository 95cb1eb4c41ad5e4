using System.Reflection;
using Xunit.Sdk;

namespace Grading.Tests;

public class GradedAttributeTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(100, 1)]
    [InlineData(1, 0)]
    [InlineData(1, -2)]
    public void Rejects_a_lesson_outside_1_to_99_or_points_below_1(int lesson, int points)
        => Assert.Throws<ArgumentOutOfRangeException>(() => new GradedAttribute(lesson, points));

    [Theory]
    [InlineData(nameof(Shown), "Graded=true Lesson=03 Points=2")]
    [InlineData(nameof(HiddenOne), "Graded=true Lesson=12 Points=5 Hidden=true")]
    public void Becomes_traits(string method, string expected)
    {
        var attribute = typeof(GradedAttributeTests).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!
            .CustomAttributes.Single(a => a.AttributeType == typeof(GradedAttribute));

        var traits = new GradedTraitDiscoverer().GetTraits(Reflector.Wrap(attribute)).ToList();

        Assert.Equal(expected, string.Join(' ', traits.Select(t => $"{t.Key}={t.Value}")));
        Assert.True(GradedTraits.TryParse(traits, out var lesson, out var points, out var hidden));
        Assert.Equal(expected, string.Join(' ', GradedTraits.Of(lesson, points, hidden).Select(t => $"{t.Key}={t.Value}")));
    }

    [Fact]
    public void A_test_without_the_graded_traits_is_not_graded()
    {
        Assert.False(GradedTraits.TryParse([new("Category", "slow")], out _, out _, out _));
        Assert.False(GradedTraits.TryParse([new("Graded", "true"), new("Lesson", "01")], out _, out _, out _));
    }

    // Not tests: carriers of the attribute, so that this project's own run stays ungraded.
    [Graded(lesson: 3, points: 2)]
    static void Shown() { }

    [Graded(lesson: 12, points: 5, Hidden = true)]
    static void HiddenOne() { }
}

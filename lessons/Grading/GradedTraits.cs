using System.Globalization;

namespace Grading;

/// <summary>The trait names and values a graded test carries, written by the discoverer and read by the logger.</summary>
public static class GradedTraits
{
    public const string Graded = "Graded";
    public const string Lesson = "Lesson";
    public const string Points = "Points";
    public const string Hidden = "Hidden";

    public static IEnumerable<KeyValuePair<string, string>> Of(int lesson, int points, bool hidden)
    {
        yield return new(Graded, "true");
        yield return new(Lesson, lesson.ToString("00", CultureInfo.InvariantCulture));
        yield return new(Points, points.ToString(CultureInfo.InvariantCulture));
        if (hidden)
            yield return new(Hidden, "true");
    }

    /// <summary>Reads the traits back; false for a test that is not graded (or whose traits are malformed).</summary>
    public static bool TryParse(IEnumerable<KeyValuePair<string, string>> traits, out int lesson, out int points, out bool hidden)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in traits)
            map.TryAdd(name, value);
        lesson = points = 0;
        hidden = map.TryGetValue(Hidden, out var h) && bool.TryParse(h, out var isHidden) && isHidden;
        return map.TryGetValue(Graded, out var g) && bool.TryParse(g, out var isGraded) && isGraded
            && map.TryGetValue(Lesson, out var l) && int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out lesson)
            && map.TryGetValue(Points, out var p) && int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out points);
    }
}

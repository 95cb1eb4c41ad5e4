using Workbook.Notebooks;

namespace Workbook.Tests;

public class DisplayFormatterTests
{
    [Fact]
    public void Plain_text_of_strings_objects_null_and_sequences()
    {
        Assert.Equal("two\nlines", DisplayFormatter.PlainTextOf("two\nlines"));
        Assert.Equal("42", DisplayFormatter.PlainTextOf(42));
        Assert.Equal("<null>", DisplayFormatter.PlainTextOf(null));
        Assert.Equal("a\nb", DisplayFormatter.PlainTextOf(new List<string> { "a", "b" }));
        Assert.EndsWith("\n20\n… (80 more)", DisplayFormatter.PlainTextOf(Enumerable.Range(1, 100).ToArray()));
        Assert.EndsWith("\n… (more than 10000 more)", DisplayFormatter.PlainTextOf(Forever()));
    }

    [Fact]
    public void Convention_formatters_add_their_mime_types_restricted_to_the_preferred_ones()
    {
        var bundle = DisplayFormatter.Format(new Gauge(0.5));

        Assert.Equal(["application/vnd.gauge.v1+json", "text/html", "text/plain"], bundle.Select(entry => entry.Key).Order());
        Assert.Equal(0.5, (double)bundle["application/vnd.gauge.v1+json"]!["level"]!);
    }

    [Fact]
    public void A_json_mime_type_that_is_not_a_json_object_fails_with_a_clear_message()
    {
        var error = Assert.Throws<FormatException>(() => DisplayFormatter.Format(new BrokenJson()));

        Assert.StartsWith($"the application/json formatter of {typeof(BrokenJson)} did not write a JSON object", error.Message);
    }

    static IEnumerable<int> Forever()
    {
        for (var i = 0; ; i++)
            yield return i;
    }
}

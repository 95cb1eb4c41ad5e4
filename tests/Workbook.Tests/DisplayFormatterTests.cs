using Workbook.Notebooks;

namespace Workbook.Tests;

/// <summary>The mime bundles of .NET Interactive's Formatter, as the C# kernel shows values, in nbformat's encoding.</summary>
public class DisplayFormatterTests
{
    [Fact]
    public void Strings_are_plain_text_other_values_and_sequences_html_with_the_kernels_plain_text_inside()
    {
        Assert.Equal("two\nlines", Single(DisplayFormatter.PlainText, "two\nlines"));
        Assert.StartsWith("<div class=\"dni-plaintext\"><pre>42</pre></div>", Single(DisplayFormatter.Html, 42));
        Assert.StartsWith("<div class=\"dni-plaintext\"><pre>&lt;null&gt;</pre></div>", Single(DisplayFormatter.Html, null));
        Assert.StartsWith("<div class=\"dni-plaintext\"><pre>[ a, b ]</pre></div>", Single(DisplayFormatter.Html, new List<string> { "a", "b" }));
        Assert.Contains(", 19, 20 ... (80 more) ]</pre>", Single(DisplayFormatter.Html, Enumerable.Range(1, 100).ToArray()));
        Assert.Contains(", 18, 19 ... (more) ]</pre>", Single(DisplayFormatter.Html, Forever()));
    }

    [Fact]
    public void Convention_formatters_give_the_preferred_mime_types()
    {
        var bundle = DisplayFormatter.Format(new Gauge(0.5));

        Assert.Equal(["application/vnd.gauge.v1+json", "text/html"], bundle.Select(entry => entry.Key).Order());
        Assert.Equal(0.5, (double)bundle["application/vnd.gauge.v1+json"]!["level"]!);
        Assert.Equal("<meter value=\"0.5\"></meter>", (string?)bundle["text/html"]);
    }

    [Fact]
    public void A_json_mime_type_that_is_not_a_json_object_fails_with_a_clear_message()
    {
        var error = Assert.Throws<FormatException>(() => DisplayFormatter.Format(new BrokenJson()));

        Assert.StartsWith($"the application/json formatter of {typeof(BrokenJson)} did not write a JSON object", error.Message);
    }

    static string Single(string mimeType, object? value)
    {
        var entry = Assert.Single(DisplayFormatter.Format(value));
        Assert.Equal(mimeType, entry.Key);
        return (string)entry.Value!;
    }

    static IEnumerable<int> Forever()
    {
        for (var i = 0; ; i++)
            yield return i;
    }
}

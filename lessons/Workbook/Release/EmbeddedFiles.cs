namespace Workbook.Release;

/// <summary>The files embedded in the workbook (Workbook.csproj's EmbeddedResource items, by logical name).</summary>
static class EmbeddedFiles
{
    public static byte[] Bytes(string name)
    {
        using var stream = typeof(EmbeddedFiles).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"the workbook was built without its {name}: rebuild it (dotnet build lessons/Workbook)");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

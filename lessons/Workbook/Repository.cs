namespace Workbook;

/// <summary>Where the repository is: the folder holding Lessons.sln.</summary>
static class Repository
{
    public const string SolutionFile = "Lessons.sln";

    /// <summary>The nearest folder at or above <paramref name="start"/> (default: the current directory) holding Lessons.sln.</summary>
    public static string? FindRoot(string? start = null)
    {
        for (var folder = new DirectoryInfo(start ?? Environment.CurrentDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, SolutionFile)))
                return folder.FullName;
        return null;
    }
}

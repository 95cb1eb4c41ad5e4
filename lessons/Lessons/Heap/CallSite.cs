namespace Lessons.Heap;

/// <summary>Where a block was allocated or freed: the calling method, its file and line.</summary>
public sealed record CallSite(string Member, string File, int Line)
{
    public override string ToString() =>
        File.Length == 0 ? $"{Member} (line {Line})" : $"{Member} ({System.IO.Path.GetFileName(File)}:{Line})";
}

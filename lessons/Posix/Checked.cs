using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>The checks every wrapper makes before calling C: the platform, and sizes C would misread.</summary>
public static class Checked
{
    /// <summary>Throws PlatformNotSupportedException off Linux, with a hint, instead of crashing or faking.</summary>
    public static void RequireLinux(string call)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException(
                $"{call} is called through Linux's libc, and this is {RuntimeInformation.OSDescription}: " +
                "run the workbook on Linux, in WSL2, or in the repository's dev container.");
    }

    /// <summary>A size argument: negative is refused before C would see it as a huge size_t.</summary>
    public static nuint Size(string call, string name, long value)
    {
        if (value < 0)
            throw new ArgumentOutOfRangeException(name, value,
                $"{call}: {name} = {value} is negative; C's size_t would turn it into {(ulong)value} bytes.");
        return (nuint)value;
    }
}

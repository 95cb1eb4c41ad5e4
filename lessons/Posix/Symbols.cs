using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>Where libc's code lives in this process.</summary>
public static class Symbols
{
    static readonly Lazy<nint> Libc = new(() => NativeLibrary.Load("libc.so.6"));

    /// <summary>The address of libc's function <paramref name="name"/> (dlsym), e.g. "malloc".</summary>
    /// <exception cref="EntryPointNotFoundException">libc has no such symbol.</exception>
    public static nint LibcFunction(string name)
    {
        Checked.RequireLinux("dlsym");
        return NativeLibrary.GetExport(Libc.Value, name);
    }
}

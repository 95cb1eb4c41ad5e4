using System.Runtime.CompilerServices;
using Lessons.Posix;

namespace Lessons.L09_PosixShm;

/// <summary>
/// Lesson 09's helpers for what outlives what: the lines of /proc/self/maps that map a file (a /dev/shm object is
/// one), the machine's Shmem figure, a temporary folder of the notebook's own, and a forked child that writes into
/// a mapping it inherited (for the file-backed MAP_SHARED / MAP_PRIVATE contrast).
/// </summary>
public static class MappingLifetimes
{
    /// <summary>What the child writes at the start of the mapping it is given.</summary>
    public const string ChildMark = "the child was here\n";

    /// <summary>The lines of this process's /proc/self/maps whose path starts with <paramref name="path"/>.</summary>
    public static IReadOnlyList<string> MapsLines(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return File.ReadAllLines("/proc/self/maps")
            .Where(l => l.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries) is { Length: 6 } f && f[5].StartsWith(path, StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>Shmem of /proc/meminfo in bytes: tmpfs pages (so /dev/shm) plus shared anonymous memory, machine-wide.</summary>
    public static long ShmemBytes()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("Shmem:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        throw new InvalidDataException("/proc/meminfo has no Shmem line");
    }

    /// <summary>A new empty folder under the temporary directory, mode 0700, named workbook-09-PID-RANDOM.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static string CreateTempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), $"workbook-09-{Environment.ProcessId}-{Random.Shared.Next():x8}");
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>
    /// Forks a child that writes <see cref="ChildMark"/> (UTF-8) at the start of <paramref name="mapping"/> (its own
    /// copy of the parent's mapping: the same pages when MAP_SHARED, its private copy on write when MAP_PRIVATE) and
    /// exits 0. The parent waits for it and reaps it.
    /// </summary>
    public static ChildOutcome WriteMarkInChild(Mapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        if (mapping.Length < ChildMark.Length || (mapping.Protection & Prot.PROT_WRITE) == 0)
            throw new ArgumentException($"the child needs a writable mapping of at least {ChildMark.Length} bytes: {mapping}", nameof(mapping));
        return Fork.Run(WriteMark, mapping.Address);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int WriteMark(nint address)
    {
        if (address == 0) return 0; // the parent's warm-up call
        ReadOnlySpan<byte> mark = "the child was here\n"u8; // static data: no allocation in the child
        for (int i = 0; i < mark.Length; i++)
            ((byte*)address)[i] = mark[i];
        return 0;
    }
}

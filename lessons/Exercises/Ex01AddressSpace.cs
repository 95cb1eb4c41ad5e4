using System.Globalization;
using Lessons.Posix;

namespace Exercises;

/// <summary>One line of /proc/PID/maps, split into its fields. <see cref="Path"/> is null for anonymous memory.</summary>
public sealed record MapsLine(ulong Start, ulong End, string Permissions, ulong Offset, string Device, ulong Inode, string? Path);

/// <summary>
/// Exercise 01 — the address space. Write these two functions; `dotnet test tests/Exercises.Tests --filter Lesson=01`
/// grades them. Work from the format described in `man 5 proc` (search for /proc/pid/maps) and from lesson 01.
/// </summary>
public static class Ex01AddressSpace
{
    /// <summary>
    /// Exercise 01.1: parses one line of /proc/PID/maps, e.g.
    /// <c>7f1e2a000000-7f1e2a028000 r--p 00000000 08:01 5678   /usr/lib/x86_64-linux-gnu/libc.so.6</c>.
    /// Addresses and the offset are hexadecimal, the inode decimal, the device is kept as written ("08:01"). The path is everything after the inode and the
    /// spaces that pad it (it may contain spaces, and ends in " (deleted)" when the file was removed); a line with
    /// no path gives null. A line in any other format throws FormatException.
    /// </summary>
    public static MapsLine ParseLine(string line)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(line);
        var rest = line.AsSpan();
        string Next(ref ReadOnlySpan<char> s)
        {
            s = s.TrimStart(' ');
            int end = s.IndexOf(' ');
            var field = end < 0 ? s : s[..end];
            s = end < 0 ? ReadOnlySpan<char>.Empty : s[end..];
            if (field.IsEmpty) throw new FormatException($"not a maps line: \"{line}\"");
            return field.ToString();
        }
        static ulong Hex(string s, string line) =>
            ulong.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
                ? v : throw new FormatException($"not a hexadecimal number: \"{s}\" in \"{line}\"");

        string range = Next(ref rest), perms = Next(ref rest), offset = Next(ref rest), dev = Next(ref rest), inode = Next(ref rest);
        int dash = range.IndexOf('-');
        if (dash <= 0 || perms.Length != 4 || !dev.Contains(':'))
            throw new FormatException($"not a maps line: \"{line}\"");
        if (!ulong.TryParse(inode, NumberStyles.None, CultureInfo.InvariantCulture, out ulong ino))
            throw new FormatException($"not an inode number: \"{inode}\" in \"{line}\"");
        string path = rest.TrimStart(' ').ToString();
        return new MapsLine(Hex(range[..dash], line), Hex(range[(dash + 1)..], line), perms, Hex(offset, line), dev, ino,
            path.Length == 0 ? null : path);
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 01.2: the kind of region one line describes, given the path of the running program:
    /// [heap] → Heap, [stack] → Stack, [vdso] → Vdso, [vvar] or [vvar_vclock] → Vvar, [vsyscall] → Vsyscall;
    /// no path, or [anon:NAME] (anonymous memory a program named) → Anonymous; another [name] → Other; the program's own file → Text if executable, else Data if writable, else ReadOnlyData;
    /// /SYSV… or /dev/shm/… → SharedMemory; "/dev/zero (deleted)" on a shared ('s') line → SharedMemory too (that is how
    /// MAP_SHARED|MAP_ANONYMOUS memory shows: the kernel backs it with a shmem object, like a System V segment, so it is
    /// shared anonymous memory, not a file); a shared library (name ending in .so or .so.N…, maybe " (deleted)") →
    /// SharedLibrary; any other file → FileBacked. (Bss needs the line before it, so it is not asked here.)
    /// </summary>
    public static RegionKind Classify(MapsLine line, string executablePath)
    {
        // BEGIN SOLUTION
        string? path = line.Path;
        if (path is null) return RegionKind.Anonymous;
        switch (path)
        {
            case "[heap]": return RegionKind.Heap;
            case "[stack]": return RegionKind.Stack;
            case "[vdso]": return RegionKind.Vdso;
            case "[vvar]" or "[vvar_vclock]": return RegionKind.Vvar;
            case "[vsyscall]": return RegionKind.Vsyscall;
        }
        if (path.StartsWith("[anon:", StringComparison.Ordinal)) return RegionKind.Anonymous;
        if (path.StartsWith('[')) return RegionKind.Other;
        if (path == executablePath)
            return line.Permissions[2] == 'x' ? RegionKind.Text : line.Permissions[1] == 'w' ? RegionKind.Data : RegionKind.ReadOnlyData;
        if (path.StartsWith("/SYSV", StringComparison.Ordinal) || path.StartsWith("/dev/shm/", StringComparison.Ordinal)
            || (path == "/dev/zero (deleted)" && line.Permissions[3] == 's'))
            return RegionKind.SharedMemory;
        string name = path.EndsWith(" (deleted)", StringComparison.Ordinal) ? path[..^" (deleted)".Length] : path;
        int so = name.LastIndexOf(".so", StringComparison.Ordinal);
        bool library = so > 0 && name[(so + 3)..].All(c => c == '.' || char.IsAsciiDigit(c)) && !name.EndsWith('.');
        return library || name.EndsWith(".so", StringComparison.Ordinal) ? RegionKind.SharedLibrary : RegionKind.FileBacked;
        // END SOLUTION
    }
}

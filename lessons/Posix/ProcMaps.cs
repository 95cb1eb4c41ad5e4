using System.Globalization;
using System.Text.RegularExpressions;

namespace Lessons.Posix;

/// <summary>What a region of the address space holds.</summary>
public enum RegionKind
{
    /// <summary>The program's machine code (the executable's r-x mapping).</summary>
    Text,
    /// <summary>The program's read-only data (constants, string literals, relocation tables).</summary>
    ReadOnlyData,
    /// <summary>The program's initialised global variables.</summary>
    Data,
    /// <summary>Uninitialised globals: anonymous zero pages right after the data segment.</summary>
    Bss,
    /// <summary>The area the program break delimits ([heap]).</summary>
    Heap,
    /// <summary>The main thread's stack ([stack]).</summary>
    Stack,
    /// <summary>The kernel's virtual shared object ([vdso]).</summary>
    Vdso,
    /// <summary>Kernel data the vdso reads ([vvar]).</summary>
    Vvar,
    /// <summary>The legacy fixed page for system calls ([vsyscall]).</summary>
    Vsyscall,
    /// <summary>Any part of a shared library (*.so).</summary>
    SharedLibrary,
    /// <summary>Shared memory: a System V segment (/SYSV…), a POSIX object (/dev/shm/…) or MAP_SHARED|MAP_ANONYMOUS memory (/dev/zero (deleted), shared).</summary>
    SharedMemory,
    /// <summary>Any other mapped file.</summary>
    FileBacked,
    /// <summary>Memory with no file: mmap(MAP_ANONYMOUS), thread stacks, big malloc blocks, the .NET GC heap.</summary>
    Anonymous,
    /// <summary>Another kernel-named region ([uprobes] …).</summary>
    Other,
}

/// <summary>One line of /proc/PID/maps.</summary>
public sealed record MapsRegion(
    ulong Start, ulong End, string Permissions, ulong Offset, string Device, ulong Inode, string? Path, RegionKind Kind)
{
    public ulong Size => End - Start;
    public bool Readable => Permissions[0] == 'r';
    public bool Writable => Permissions[1] == 'w';
    public bool Executable => Permissions[2] == 'x';
    /// <summary>'s' (shared) rather than 'p' (private, copy-on-write).</summary>
    public bool Shared => Permissions[3] == 's';
    /// <summary>The file was deleted after it was mapped (the kernel appends " (deleted)").</summary>
    public bool Deleted => Path?.EndsWith(" (deleted)", StringComparison.Ordinal) == true;

    public bool Contains(ulong address) => address >= Start && address < End;
    public bool Contains(nint address) => Contains((ulong)address);

    public override string ToString() =>
        $"{Start:x12}-{End:x12} {Permissions} {Size / 1024,9} KiB  {Kind,-13} {Path}";
}

/// <summary>Reads and classifies /proc/self/maps.</summary>
public static class ProcMaps
{
    static readonly Regex Line = new(
        @"^(?<start>[0-9a-f]+)-(?<end>[0-9a-f]+)\s+(?<perms>[r-][w-][x-][ps])\s+(?<offset>[0-9a-f]+)\s+(?<dev>[0-9a-f]+:[0-9a-f]+)\s+(?<inode>\d+)(?:\s+(?<path>.*))?$",
        RegexOptions.CultureInvariant);

    static readonly Regex SharedObject = new(@"\.so(\.[0-9.]+)?( \(deleted\))?$", RegexOptions.CultureInvariant);

    /// <summary>The regions of this process (or of another process you may read), classified.</summary>
    public static IReadOnlyList<MapsRegion> Read(int? pid = null)
    {
        Checked.RequireLinux("/proc/PID/maps");
        string proc = pid is null ? "/proc/self" : $"/proc/{pid}";
        string exe = ExecutablePath(proc);
        return Classify(File.ReadAllLines($"{proc}/maps"), exe);
    }

    /// <summary>The region holding an address, or null when nothing is mapped there.</summary>
    public static MapsRegion? Find(nint address) => Read().FirstOrDefault(r => r.Contains(address));

    /// <summary>The path of the running program (what /proc/self/exe points to).</summary>
    public static string ExecutablePath(string proc = "/proc/self") =>
        new FileInfo($"{proc}/exe").LinkTarget ?? throw new IOException($"cannot read the link {proc}/exe");

    /// <summary>Parses and classifies the lines of a maps file; <paramref name="executable"/> is the program's path (its text, data and bss).</summary>
    public static IReadOnlyList<MapsRegion> Classify(IEnumerable<string> lines, string executable)
    {
        var regions = new List<MapsRegion>();
        foreach (var text in lines)
        {
            if (text.Length == 0) continue;
            var r = Parse(text, executable);
            // bss: an anonymous writable mapping that starts exactly where the executable's data ends.
            if (r.Kind == RegionKind.Anonymous && r.Writable && regions.Count > 0
                && regions[^1] is { Kind: RegionKind.Data or RegionKind.Bss } prev && prev.End == r.Start
                && prev.Kind == RegionKind.Data)
                r = r with { Kind = RegionKind.Bss };
            regions.Add(r);
        }
        return regions;
    }

    /// <summary>Parses one maps line; a line that is not in the kernel's format is a FormatException quoting it.</summary>
    public static MapsRegion Parse(string line, string executable)
    {
        var m = Line.Match(line);
        if (!m.Success)
            throw new FormatException($"not a /proc/PID/maps line: \"{line}\"");
        static ulong Hex(Group g) => ulong.Parse(g.Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        string? path = m.Groups["path"].Success && m.Groups["path"].Value.Length > 0 ? m.Groups["path"].Value : null;
        string perms = m.Groups["perms"].Value;
        return new MapsRegion(Hex(m.Groups["start"]), Hex(m.Groups["end"]), perms, Hex(m.Groups["offset"]),
            m.Groups["dev"].Value, ulong.Parse(m.Groups["inode"].Value, CultureInfo.InvariantCulture), path,
            KindOf(path, perms, executable));
    }

    static RegionKind KindOf(string? path, string perms, string executable) => path switch
    {
        null => RegionKind.Anonymous,
        "[heap]" => RegionKind.Heap,
        "[stack]" => RegionKind.Stack,
        "[vdso]" => RegionKind.Vdso,
        "[vvar]" or "[vvar_vclock]" => RegionKind.Vvar,
        "[vsyscall]" => RegionKind.Vsyscall,
        _ when path.StartsWith("[anon:", StringComparison.Ordinal) => RegionKind.Anonymous,
        _ when path.StartsWith('[') => RegionKind.Other,
        _ when path == executable => perms[2] == 'x' ? RegionKind.Text : perms[1] == 'w' ? RegionKind.Data : RegionKind.ReadOnlyData,
        _ when path.StartsWith("/SYSV", StringComparison.Ordinal) || path.StartsWith("/dev/shm/", StringComparison.Ordinal) => RegionKind.SharedMemory,
        // MAP_SHARED|MAP_ANONYMOUS: the kernel backs it with a shmem object named "dev/zero", unlinked from the start.
        "/dev/zero (deleted)" when perms[3] == 's' => RegionKind.SharedMemory,
        _ when SharedObject.IsMatch(path) => RegionKind.SharedLibrary,
        _ => RegionKind.FileBacked,
    };
}

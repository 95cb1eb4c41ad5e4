using System.Diagnostics;
using Lessons.Posix;

namespace Lessons.L09_PosixShm;

/// <summary>One entry of /dev/shm: its name as shm_open sees it ("/x" for /dev/shm/x), size and permissions.</summary>
public sealed record ShmEntry(string Name, long Size, UnixFileMode Mode)
{
    /// <summary>The permissions as <c>ls -l</c> writes them, e.g. <c>rw-------</c>.</summary>
    public string Permissions => string.Concat(
        Bit(UnixFileMode.UserRead, 'r'), Bit(UnixFileMode.UserWrite, 'w'), Bit(UnixFileMode.UserExecute, 'x'),
        Bit(UnixFileMode.GroupRead, 'r'), Bit(UnixFileMode.GroupWrite, 'w'), Bit(UnixFileMode.GroupExecute, 'x'),
        Bit(UnixFileMode.OtherRead, 'r'), Bit(UnixFileMode.OtherWrite, 'w'), Bit(UnixFileMode.OtherExecute, 'x'));

    /// <summary>The permissions in octal, e.g. 0600.</summary>
    public string Octal => CFormat.Octal((int)Mode & 0x1ff);

    string Bit(UnixFileMode bit, char c) => (Mode & bit) != 0 ? c.ToString() : "-";

    public override string ToString() => $"{Permissions} ({Octal}) {Size,8} bytes  /dev/shm{Name}";
}

/// <summary>
/// Lesson 09's notebook helpers: unique names, a look at /dev/shm, and the workbook's shm-producer and
/// shm-consumer run as separate processes (<see cref="WorkbookCli"/>).
/// </summary>
public static class ShmDemo
{
    /// <summary>Where POSIX shared memory objects appear as files on Linux.</summary>
    public const string DevShm = PosixShm.DevShm;

    /// <summary>A name nobody else uses: the prefix, this process's id and random hex.</summary>
    public static string UniqueName(string prefix = "workbook-09") =>
        $"/{prefix}-{Environment.ProcessId}-{Random.Shared.Next():x8}";

    /// <summary>The /dev/shm entries whose shm_open name starts with <paramref name="prefix"/> (e.g. "/workbook-09").</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static IReadOnlyList<ShmEntry> List(string prefix = "/")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var entries = new List<ShmEntry>();
        foreach (var path in Directory.EnumerateFiles(DevShm))
        {
            string name = "/" + Path.GetFileName(path);
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            try { entries.Add(new ShmEntry(name, new FileInfo(path).Length, File.GetUnixFileMode(path))); }
            catch (IOException) { } // removed meanwhile
        }
        return entries.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>The entry of one name, or null when /dev/shm has no such object.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static ShmEntry? Find(string name) => List(name).FirstOrDefault(e => e.Name == name);

    /// <summary>Runs <c>workbook shm-producer --name NAME --message MESSAGE</c> (plus any extra options).</summary>
    public static CliRun Producer(string name, string message, params string[] options) =>
        WorkbookCli.Run(["shm-producer", "--name", name, "--message", message, .. options]);

    /// <summary>Runs <c>workbook shm-consumer --name NAME</c> (plus any extra options).</summary>
    public static CliRun Consumer(string name, params string[] options) =>
        WorkbookCli.Run(["shm-consumer", "--name", name, .. options]);

    /// <summary>Waits until /dev/shm has the name (true) or the time is up (false).</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public static bool WaitForName(string name, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Find(name) is null)
        {
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(20);
        }
        return true;
    }
}

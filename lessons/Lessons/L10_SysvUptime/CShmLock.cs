using System.Globalization;

namespace Lessons.L10_SysvUptime;

/// <summary>
/// SHM_LOCK as an unprivileged user: a C program, run as <c>nobody</c> through util-linux's <c>setpriv</c> (which drops
/// every capability with the uid), creates an IPC_PRIVATE segment of each size, tries SHM_LOCK, prints the outcome and
/// removes the segment at once.
/// </summary>
public static class CShmLock
{
    public const string Source = """
        #define _GNU_SOURCE                                     /* strerrorname_np */
        #include <errno.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/ipc.h>
        #include <sys/shm.h>

        int main(int argc, char *argv[]) {
            printf("uid %d\n", (int)geteuid());
            for (int i = 1; i < argc; i++) {
                size_t size = strtoull(argv[i], NULL, 0);
                int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
                if (id == -1) { printf("shmget %zu: %s\n", size, strerror(errno)); return EXIT_FAILURE; }
                int rc = shmctl(id, SHM_LOCK, NULL);
                int err = errno;
                shmctl(id, IPC_RMID, NULL);
                printf("SHM_LOCK %zu: %s\n", size, rc == 0 ? "ok" : strerrorname_np(err));
            }
            return EXIT_SUCCESS;
        }
        """;

    /// <summary>The outcome per size ("ok" or the errno's name), or null with <paramref name="missing"/> saying why.</summary>
    public static IReadOnlyDictionary<long, string>? RunAsNobody(IEnumerable<long> sizes, out string? missing)
    {
        missing = null;
        string? gcc = CPrograms.FindTool("gcc"), setpriv = CPrograms.FindTool("setpriv");
        if (gcc is null) { missing = "gcc is not installed on this machine: the unprivileged SHM_LOCK cannot be shown"; return null; }
        if (setpriv is null) { missing = "setpriv (util-linux) is not installed: the unprivileged SHM_LOCK cannot be shown"; return null; }
        string dir = Directory.CreateTempSubdirectory("workbook-shm-lock-").FullName;
        try
        {
            string exe = Path.Combine(dir, "shm_lock");
            File.WriteAllText(exe + ".c", Source);
            var (cc, _, ccErr) = CPrograms.Exec(gcc, ["-O0", "-Wall", "-Werror", "-o", exe, exe + ".c"], TimeSpan.FromSeconds(60));
            if (cc != 0) { missing = $"gcc failed on shm_lock.c: {ccErr.Trim()}"; return null; }
            File.SetUnixFileMode(dir, File.GetUnixFileMode(dir) | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var (code, stdout, stderr) = CPrograms.Exec(setpriv,
                ["--reuid=65534", "--regid=65534", "--clear-groups", exe, .. sizes.Select(s => s.ToString(CultureInfo.InvariantCulture))],
                TimeSpan.FromSeconds(30));
            if (code != 0) { missing = $"setpriv {exe} failed ({code}): {(stdout + stderr).Trim()}"; return null; }
            return stdout.Split('\n').Where(l => l.StartsWith("SHM_LOCK ", StringComparison.Ordinal))
                .Select(l => l["SHM_LOCK ".Length..].Split(": "))
                .ToDictionary(f => long.Parse(f[0], CultureInfo.InvariantCulture), f => f[1]);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

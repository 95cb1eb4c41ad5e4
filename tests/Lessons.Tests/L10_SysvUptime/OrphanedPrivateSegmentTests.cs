using System.Globalization;
using Lessons.L10_SysvUptime;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.L10_SysvUptime;

/// <summary>
/// uptime-load SIGKILLed between its shmget(IPC_PRIVATE) and its IPC_RMID leaves a segment that no key finds; the next
/// uptime-load removes it, and only it. A C program plays the killed process: it makes the segment and exits.
/// </summary>
public class OrphanedPrivateSegmentTests
{
    const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/shm.h>
        /* argv[1]: "marked", "unmarked" or a pid to record instead of its own */
        int main(int argc, char *argv[]) {
            int id = shmget(IPC_PRIVATE, 256, IPC_CREAT | 0600);
            if (id < 0) { perror("shmget"); return 1; }
            char *p = shmat(id, NULL, 0);
            if (p == (void *)-1) { perror("shmat"); return 1; }
            int pid = strcmp(argv[1], "marked") == 0 || strcmp(argv[1], "unmarked") == 0 ? getpid() : atoi(argv[1]);
            int version = VERSION; long layout = LAYOUT; unsigned magic = MAGIC;
            memcpy(p + PID_AT, &pid, 4);
            if (strcmp(argv[1], "unmarked") != 0) {
                memcpy(p + VERSION_AT, &version, 4);
                memcpy(p + LAYOUT_AT, &layout, 8);
                memcpy(p + MAGIC_AT, &magic, 4);
            }
            printf("%d\n", id);
            return 0; /* no IPC_RMID: as if killed */
        }
        """;

    [RequiresTool(Tool.CCompiler)]
    public void The_next_run_removes_only_a_marked_segment_whose_dead_creator_it_records()
    {
        var dir = Directory.CreateTempSubdirectory("workbook-orphan-");
        try { Run(Path.Combine(dir.FullName, "orphan")); }
        finally { dir.Delete(recursive: true); }
    }

    static void Run(string program)
    {
        File.WriteAllText(program + ".c", Source);
        string[] defines = [$"-DVERSION={UptimeLayout.Version}", $"-DLAYOUT={UptimeLayout.MinimumSize}", $"-DMAGIC={UptimeLayout.Magic}u",
            $"-DPID_AT={UptimeLayout.ServerPidOffset}", $"-DVERSION_AT={UptimeLayout.VersionOffset}", $"-DLAYOUT_AT={UptimeLayout.LayoutSizeOffset}",
            $"-DMAGIC_AT={UptimeLayout.MagicOffset}"];
        var (code, _, err) = CPrograms.Exec(CPrograms.FindTool("gcc") ?? "cc", [.. defines, "-O1", "-o", program, program + ".c"], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, err);
        int Make(string how)
        {
            var (exit, stdout, stderr) = CPrograms.Exec(program, [how], TimeSpan.FromSeconds(30));
            Assert.True(exit == 0, stderr);
            return int.Parse(stdout.Trim(), CultureInfo.InvariantCulture);
        }
        int orphan = Make("marked"), unmarked = Make("unmarked"), living = Make(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        try
        {
            var removed = UptimeServer.ReclaimOrphanedPrivate();

            Assert.Null(SysVDetails.Proc(orphan));
            Assert.All(removed, line => Assert.Matches(@"^removed private segment \d+ \(256 bytes\) that pid \d+ left when it was killed", line));
            Assert.NotNull(SysVDetails.Proc(unmarked));   // not the workbook's: left alone
            Assert.NotNull(SysVDetails.Proc(living));     // records another (living) process, not its dead creator
            Assert.DoesNotContain(removed, line => line.Contains($"segment {unmarked} ") || line.Contains($"segment {living} "));
        }
        finally
        {
            foreach (int id in new[] { orphan, unmarked, living })
                try { SysVShm.Remove(id); } catch (PosixException) { }
        }
    }
}

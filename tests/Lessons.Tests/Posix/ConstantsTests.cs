using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.Posix;

/// <summary>The C# constants against the system headers: a C probe compiled with cc prints the real values.</summary>
public class ConstantsTests
{
    static readonly Type[] Enums =
    [
        typeof(Prot), typeof(MapFlags), typeof(Advice), typeof(OpenFlags), typeof(IpcFlags), typeof(ShmatFlags),
        typeof(ShmCtlCommand), typeof(Signal), typeof(MalloptParam), typeof(RUsageWho), typeof(Errno),
    ];

    static IEnumerable<(string Name, long Value)> Expected()
    {
        foreach (var t in Enums)
            foreach (var name in Enum.GetNames(t).Where(n => n != "None"))
                yield return (name, Convert.ToInt64(Enum.Parse(t, name)));
        foreach (var assumed in Abi.Assumed)
            yield return assumed;
    }

    [RequiresTool(Tool.CCompiler)]
    public void ConstantsAndLayoutsMatchTheSystemHeaders()
    {
        var expected = Expected().ToList();
        var actual = Probe(expected.Select(e => e.Name).ToList());
        var wrong = expected.Where(e => actual[e.Name] != e.Value)
            .Select(e => $"{e.Name}: C# {e.Value}, headers {actual[e.Name]}").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>Without a C compiler this is all that is checked: the values written down are the Linux x86-64 ones.</summary>
    [Fact]
    public void TheConstantsAreTheLinuxX64Values()
    {
        Assert.True(RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64); // same values on arm64
        Assert.Equal((1, 2, 4), ((int)Prot.PROT_READ, (int)Prot.PROT_WRITE, (int)Prot.PROT_EXEC));
        Assert.Equal((1, 2, 0x20), ((int)MapFlags.MAP_SHARED, (int)MapFlags.MAP_PRIVATE, (int)MapFlags.MAP_ANONYMOUS));
        Assert.Equal((2, 9, 11, 15), ((int)Signal.SIGINT, (int)Signal.SIGKILL, (int)Signal.SIGSEGV, (int)Signal.SIGTERM));
        Assert.Equal((2, 12, 13, 22), ((int)Errno.ENOENT, (int)Errno.ENOMEM, (int)Errno.EACCES, (int)Errno.EINVAL));
        Assert.Equal(0x200, (int)IpcFlags.IPC_CREAT);
        Assert.Contains(("sizeof(struct shmid_ds)", 112L), Abi.Assumed);
    }

    static Dictionary<string, long> Probe(List<string> names)
    {
        string cc = TestTool.CCompilerPath ?? throw new InvalidOperationException(TestTool.MissingReason(Tool.CCompiler));
        string dir = Directory.CreateTempSubdirectory("workbook-probe-").FullName;
        try
        {
            var c = new StringBuilder("""
                #define _GNU_SOURCE
                #include <stdio.h>
                #include <stddef.h>
                #include <errno.h>
                #include <fcntl.h>
                #include <malloc.h>
                #include <signal.h>
                #include <unistd.h>
                #include <sys/ipc.h>
                #include <sys/prctl.h>
                #include <sys/mman.h>
                #include <sys/resource.h>
                #include <sys/shm.h>
                #include <sys/stat.h>
                #include <sys/wait.h>
                int main(void) {

                """);
            foreach (var n in names)
                c.AppendLine($"    printf(\"%s=%ld\\n\", \"{n}\", (long)({n}));");
            c.AppendLine("    return 0;\n}");
            File.WriteAllText(Path.Combine(dir, "probe.c"), c.ToString());
            Run(cc, $"-o probe probe.c", dir);
            return Run(Path.Combine(dir, "probe"), "", dir)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split('=', 2))
                .ToDictionary(p => p[0], p => long.Parse(p[1]));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    static string Run(string file, string args, string dir)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args)
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args} failed:\n{error}");
        return output;
    }
}

using Lessons.L10_SysvUptime;
using Lessons.Posix;
using Lessons.Tests.Posix;
using TestTools;

namespace Lessons.Tests.L10_SysvUptime;

public class CUptimeTests
{
    [RequiresTool(Tool.CCompiler)]
    public void The_C_server_and_client_share_the_text_at_offset_0_and_the_server_removes_its_segment()
    {
        using var c = CUptime.Compile(out var missing) ?? throw new InvalidOperationException(missing);
        int key = TestNames.FreshKey();
        using (var server = c.StartServer(key, intervalMs: 50))
        {
            using (var client = UptimeClient.TryOpen(key)!)
            {
                Thread.Sleep(120);
                Assert.Matches(@"^\d\d:\d\d:\d\d$", client.ReadRaw());
                Assert.Equal(ServerState.Running, client.State());
            }
            var (code, output) = c.RunClient(key, count: 1, intervalMs: 10);
            Assert.Equal(0, code);
            Assert.Matches(@"^Timer is : \[\d\d:\d\d:\d\d\]$", output);
            Assert.Equal(0, server.Stop());
            Assert.Contains("detached and removed", server.Output);
        }
        Assert.False(UptimeProcesses.SegmentExists(key));
        Assert.NotEqual(0, c.RunClient(key, count: 1).ExitCode); // ENOENT now
    }

    [RequiresTool(Tool.CCompiler)]
    public void A_killed_C_server_leaves_no_segment_after_Dispose()
    {
        using var c = CUptime.Compile(out var missing) ?? throw new InvalidOperationException(missing);
        int key = TestNames.FreshKey();
        using (var server = c.StartServer(key, intervalMs: 50))
            Signals.Kill(server.Pid, Signal.SIGKILL); // no clean-up runs in the C program
        Assert.False(UptimeProcesses.SegmentExists(key));
    }
}

using Lessons.L10_SysvUptime;
using Lessons.Posix;

namespace Exercises;

/// <summary>
/// The up-time server's segment as exercise 10.1 opens it: its id, and the read-write attachment the server writes
/// the text into (through <see cref="UptimeClock.WriteTick"/>).
/// </summary>
public sealed record UptimeSegment(int Id, int Key, Attachment Attachment);

/// <summary>
/// Exercise 10.1–10.4 — the up-time server's setup and teardown and the client's attach and detach, with the workbook's
/// checked System V calls (<see cref="SysVShm"/>: <c>Get</c> is shmget, <c>Attach</c> is shmat, <c>Remove</c> is
/// shmctl(IPC_RMID); disposing an <see cref="Attachment"/> is shmdt). The graded tests run your server against the
/// workbook's <c>uptime-client</c> and your client against its <c>uptime-server</c>, and check that no segment is
/// left behind. `dotnet test tests/Exercises.Tests --filter Lesson=10` grades them.
/// </summary>
public static class Ex10SysvUptime
{
    /// <summary>
    /// Exercise 10.1 — the server's setup: creates a new segment of <paramref name="size"/> bytes at
    /// <paramref name="key"/>, failing if the key is already taken (whatever that segment's size), readable and writable
    /// by the owner only (0600), and attaches it read-write. If attaching fails, the new segment is removed before the
    /// error goes on: nothing is left.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="key"/> is IPC_PRIVATE (0: no client could find it), or
    /// <paramref name="size"/> is below <see cref="UptimeLayout.MinimumSize"/>; nothing is created.</exception>
    /// <exception cref="PosixException">shmget or shmat failed (EEXIST when the key is taken; that segment is left alone).</exception>
    public static UptimeSegment StartServer(int key, long size = UptimeLayout.DefaultSize)
    {
        // BEGIN SOLUTION
        ArgumentOutOfRangeException.ThrowIfEqual(key, SysVShm.IPC_PRIVATE);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, UptimeLayout.MinimumSize);
        int id = SysVShm.Get(key, size, IpcFlags.IPC_CREAT | IpcFlags.IPC_EXCL, 0x180);
        try { return new UptimeSegment(id, key, SysVShm.Attach(id)); }
        catch
        {
            SysVShm.Remove(id);
            throw;
        }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 10.2 — the server's teardown: detaches the segment and removes it, so that its key is free again and
    /// a client started afterwards finds nothing. The removal happens even if the detach fails.
    /// </summary>
    public static void StopServer(UptimeSegment server)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(server);
        try { server.Attachment.Dispose(); }
        finally { SysVShm.Remove(server.Id); }
        // END SOLUTION
    }

    /// <summary>
    /// Exercise 10.3 — the client's attach: finds the existing segment of <paramref name="key"/> (asking for size 0 and no
    /// flags: the client never creates one) and attaches it read-only. A segment smaller than
    /// <see cref="UptimeLayout.MinimumSize"/> is not an up-time segment: detach it again and refuse it.
    /// </summary>
    /// <exception cref="PosixException">No segment has the key (ENOENT), or shmat failed (EACCES …).</exception>
    /// <exception cref="InvalidOperationException">The segment is too small; nothing stays attached.</exception>
    public static Attachment AttachClient(int key)
    {
        // BEGIN SOLUTION
        int id = SysVShm.Get(key, 0);
        var attachment = SysVShm.Attach(id, ShmatFlags.SHM_RDONLY);
        if (attachment.Length < UptimeLayout.MinimumSize)
        {
            attachment.Dispose();
            throw new InvalidOperationException($"segment {id} has {attachment.Length} bytes: too small for the up-time layout");
        }
        return attachment;
        // END SOLUTION
    }

    /// <summary>Exercise 10.4 — the client's detach: the segment stays (it is the server's), this process lets go of it.</summary>
    public static void DetachClient(Attachment client)
    {
        // BEGIN SOLUTION
        ArgumentNullException.ThrowIfNull(client);
        client.Dispose();
        // END SOLUTION
    }
}

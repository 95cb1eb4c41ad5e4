using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// Runs registered clean-ups (remove owned segments and shm names, kill and reap children) when the process
/// exits or gets SIGINT, SIGTERM or SIGHUP (a closed terminal). Finalizers do not run at exit in .NET, so this is what keeps `ipcs -m` and
/// /dev/shm clean after Ctrl+C.
/// </summary>
public static class ProcessCleanup
{
    static readonly List<Action> Actions = new();
    static readonly List<PosixSignalRegistration> Registrations = new();
    static bool hooked;
    static Action<PosixSignal>? graceful;

    /// <summary>Runs <paramref name="action"/> at process exit and on SIGINT, SIGTERM or SIGHUP, unless it is unregistered first.</summary>
    public static void Register(Action action)
    {
        lock (Actions)
        {
            Actions.Add(action);
            Hook();
        }
    }

    /// <summary>
    /// Until disposed, the first SIGINT, SIGTERM or SIGHUP calls <paramref name="onStop"/> instead of ending the process
    /// (the caller winds down and the clean-ups run at its normal exit); a second one runs the clean-ups and ends it.
    /// Commands with a loop to leave use this, so that no clean-up pulls a child or a segment from under the loop.
    /// </summary>
    public static IDisposable StopGracefully(Action<PosixSignal> onStop)
    {
        lock (Actions)
        {
            if (graceful is not null) throw new InvalidOperationException("a graceful stop is already set up");
            graceful = onStop;
            Hook();
        }
        return new GracefulScope(onStop);
    }

    sealed class GracefulScope(Action<PosixSignal> onStop) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref graceful, null, onStop);
    }

    static void Hook()
    {
        if (hooked) return;
        hooked = true;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAll();
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP })
            Registrations.Add(PosixSignalRegistration.Create(sig, OnSignal));
    }

    static void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.Exchange(ref graceful, null) is { } onStop)
        {
            context.Cancel = true;
            onStop(context.Signal);
            return;
        }
        RunAll();
    }

    /// <summary>Forgets an action given to <see cref="Register"/>.</summary>
    public static void Unregister(Action action)
    {
        lock (Actions) Actions.Remove(action);
    }

    /// <summary>Runs every registered clean-up (later registrations first). Clean-ups are idempotent.</summary>
    public static void RunAll()
    {
        Action[] todo;
        lock (Actions) todo = Actions.ToArray();
        for (int i = todo.Length - 1; i >= 0; i--)
        {
            try { todo[i](); }
            catch (Exception e) { Console.Error.WriteLine($"clean-up failed: {e.Message}"); }
        }
    }
}

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
    static long gracefulStop; // when the graceful stop began (a Stopwatch timestamp), 0 before

    /// <summary>
    /// Signals this close together are one request to stop: Ctrl+C reaches a command and the child it restarted itself
    /// as, which also gets it passed on, and a killed parent's death signal came twice in 2 of 8 runs.
    /// </summary>
    public static readonly TimeSpan SameStop = TimeSpan.FromSeconds(1);

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
    /// (the caller winds down and the clean-ups run at its normal exit); a second one, <see cref="SameStop"/> or more
    /// later, runs the clean-ups and ends it.
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
            Interlocked.Exchange(ref gracefulStop, System.Diagnostics.Stopwatch.GetTimestamp());
            onStop(context.Signal);
            return;
        }
        if (Interlocked.Read(ref gracefulStop) is not 0 and var since && System.Diagnostics.Stopwatch.GetElapsedTime(since) < SameStop)
        {
            context.Cancel = true; // the same stop, delivered twice
            return;
        }
        RunAll();
    }

    /// <summary>Forgets an action given to <see cref="Register"/>.</summary>
    public static void Unregister(Action action)
    {
        lock (Actions) Actions.Remove(action);
    }

    static readonly CleanupGate Gate = new();

    /// <summary>
    /// Creates an object and registers its clean-up as one step: a signal's run of the clean-ups waits until
    /// <paramref name="create"/> has returned (so an object made just as Ctrl+C came is removed, not left between its
    /// creation and its registration), and once a run has begun nothing more is created (OperationCanceledException).
    /// </summary>
    public static T Creating<T>(Func<T> create) => Gate.Creating(create);

    /// <summary>
    /// Runs every registered clean-up (later registrations first). Clean-ups are idempotent. One run at a time: a second
    /// signal's run returns only when the first's is done, as the process may end when it returns (SIGINT and SIGHUP
    /// end it then; once a name was left because a second run returned while the first still unlinked it).
    /// </summary>
    public static void RunAll() => Gate.Run(() =>
    {
        Action[] todo;
        lock (Actions) todo = Actions.ToArray();
        for (int i = todo.Length - 1; i >= 0; i--)
        {
            try { todo[i](); }
            catch (Exception e) { Console.Error.WriteLine($"clean-up failed: {e.Message}"); }
        }
    });
}

/// <summary>
/// <see cref="ProcessCleanup"/>'s lock (a class of its own so that a test can drive one): runs of the clean-ups go one at
/// a time, a creation and its registration are one step that a run waits for, and after a run began nothing is created.
/// </summary>
public sealed class CleanupGate
{
    readonly Lock gate = new();
    bool stopping;

    /// <summary>True once <see cref="Run"/> has begun.</summary>
    public bool Stopping { get { lock (gate) return stopping; } }

    /// <summary>Runs <paramref name="create"/> (which registers what it made) so that no run of the clean-ups overlaps it.</summary>
    /// <exception cref="OperationCanceledException">A run has begun: the process is stopping.</exception>
    public T Creating<T>(Func<T> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        lock (gate)
        {
            if (stopping) throw new OperationCanceledException("the process is stopping (a signal or exit ran its clean-ups): nothing more is created");
            return create();
        }
    }

    /// <summary>Runs the clean-ups, after any creation in progress and any other run.</summary>
    public void Run(Action cleanUps)
    {
        ArgumentNullException.ThrowIfNull(cleanUps);
        lock (gate)
        {
            stopping = true;
            cleanUps();
        }
    }
}

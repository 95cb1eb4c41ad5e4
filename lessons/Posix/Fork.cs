using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace Lessons.Posix;

/// <summary>
/// Code that runs in a forked child. It receives <paramref name="arg"/> (usually the address of shared
/// memory) and returns the child's exit code. After fork only this one thread exists in the child, so the
/// body must not allocate managed objects, throw, lock, or call anything but async-signal-safe libc calls
/// and plain memory reads and writes. Rules the workbook checks or relies on:
/// <list type="bullet">
/// <item>a static method marked <c>[MethodImpl(MethodImplOptions.AggressiveOptimization)]</c>, in an assembly
/// built with optimizations (unoptimized code calls into the runtime, which can deadlock in the child);</item>
/// <item>before the first fork the parent calls it once with <paramref name="arg"/> pointing at 64 KiB of
/// zeros, so that everything it calls is compiled and bound beforehand: with zeros it must return (not wait,
/// not fault, never call _exit).</item>
/// </list>
/// </summary>
public delegate int ChildBody(nint arg);

/// <summary>Options for <see cref="Fork"/>.</summary>
public sealed record ForkOptions
{
    /// <summary>How long the parent waits for the child's "started" flag before it kills and forks again.</summary>
    public TimeSpan StartDeadline { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long a started child may run before it is killed and reported as an error.</summary>
    public TimeSpan RunDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times a child that never started is replaced before giving up.</summary>
    public int MaxStartRetries { get; init; } = 50;

    /// <summary>
    /// Call the body once in the parent first, on 64 KiB of zeros (once per method). Turn it off only for a body
    /// that would not return there and whose callees the parent has already run.
    /// </summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>Restore the default action of SIGSEGV and SIGBUS in the child, so a fault ends it as in C.</summary>
    public bool DefaultFaultSignals { get; init; } = true;

    public static ForkOptions Default { get; } = new();
}

/// <summary>How a child ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ChildOutcome(int Pid, int? ExitCode, Signal? KilledBy, int StartRetries)
{
    public bool ExitedNormally => ExitCode is not null;

    public override string ToString() =>
        ExitCode is int code ? $"child {Pid} exited with code {code}" : $"child {Pid} killed by {KilledBy}";

    internal static ChildOutcome FromStatus(int pid, int status, int retries)
    {
        int sig = status & 0x7f;
        return sig == 0
            ? new ChildOutcome(pid, (status >> 8) & 0xff, null, retries)
            : new ChildOutcome(pid, null, (Signal)sig, retries);
    }
}

/// <summary>
/// fork made safe for a .NET process (lesson 08 explains it; the README's "Conventions" sums it up): the child runs only precompiled code and
/// announces itself in a shared control page; a child that never starts (it hangs when the fork caught the
/// runtime suspending threads for a GC) is killed and replaced; forks are serialized; every child is reaped;
/// a child that overruns its deadline is killed and reported.
/// </summary>
public static class Fork
{
    static readonly object ForkLock = new();
    static readonly HashSet<int> LiveChildren = new();
    static long startRetriesTotal;

    internal const int PR_SET_PDEATHSIG = 1;

    // The control page: the child moves it from Waiting to Started before its body; a parent that gives up
    // moves it to Abandoned first, so a child can never run its body after the parent decided to kill it.
    const int Waiting = 0, Started = 1, Abandoned = 2;

    static unsafe Fork()
    {
        _ = ChildSafe.Exit; // resolves the child's libc calls now, in the parent
        Prepare(typeof(Fork).GetMethod(nameof(ChildMain), BindingFlags.NonPublic | BindingFlags.Static)!);
        ProcessCleanup.Register(KillAll);
    }

    /// <summary>Start retries since the process began (children that hung before their first step).</summary>
    public static long StartRetriesTotal => Interlocked.Read(ref startRetriesTotal);

    /// <summary>Forks, runs <paramref name="body"/> in the child, waits for it and reports how it ended.</summary>
    public static ChildOutcome Run(ChildBody body, nint arg = 0, ForkOptions? options = null)
    {
        using var child = Start(body, arg, options);
        return child.Wait();
    }

    /// <summary>Forks and returns once the child has started; the caller waits (or disposes, which kills).</summary>
    public static unsafe ForkedChild Start(ChildBody body, nint arg = 0, ForkOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        Checked.RequireLinux("fork");
        RequireCodeNotShared();
        options ??= ForkOptions.Default;
        RequireOptimized(body.Method);
        Prepare(body.Method);
        if (options.WarmUp)
            WarmUp(body);
        int parent = Environment.ProcessId;

        using var control = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        int* started = (int*)control.Address;
        bool defaults = options.DefaultFaultSignals;
        lock (ForkLock)
        {
            for (int retries = 0; ; retries++)
            {
                *started = Waiting;
                int pid = Libc.fork();
                if (pid == 0)
                    ChildMain(started, parent, body, arg, defaults); // never returns
                if (pid < 0)
                    throw PosixException.FromLastError("fork()");

                lock (LiveChildren) LiveChildren.Add(pid);
                var exit = new ChildExit(pid);
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    if (Volatile.Read(ref *started) == Started)
                        return new ForkedChild(pid, retries, options.RunDeadline, exit);
                    if (TryReap(pid, out int status))
                    {
                        exit.Dispose();
                        return new ForkedChild(pid, retries, status); // finished before we looked
                    }
                    if (clock.Elapsed > options.StartDeadline)
                    {
                        if (Interlocked.CompareExchange(ref *started, Abandoned, Waiting) == Started)
                            return new ForkedChild(pid, retries, options.RunDeadline, exit); // it started just now
                        break;
                    }
                    exit.Pause(clock, TimeSpan.FromMilliseconds(1)); // wakes at once when the child exits
                }
                exit.Dispose();
                KillAndReap(pid);
                Interlocked.Increment(ref startRetriesTotal);
                if (retries + 1 >= options.MaxStartRetries)
                    throw new InvalidOperationException(
                        $"fork(): {options.MaxStartRetries} children in a row never started within {options.StartDeadline.TotalMilliseconds} ms; each was killed and reaped.");
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    static unsafe void ChildMain(int* started, int parent, ChildBody body, nint arg, bool defaultFaultSignals)
    {
        ChildSafe.Prctl(PR_SET_PDEATHSIG, (nint)Signal.SIGKILL, 0, 0, 0); // die with the parent, even if it is SIGKILLed
        if (ChildSafe.GetPpid() != parent)
            ChildSafe.Exit(126); // the parent died before the line above
        ChildSafe.SetSignal((int)Signal.SIGINT, Libc.SIG_DFL);
        ChildSafe.SetSignal((int)Signal.SIGTERM, Libc.SIG_DFL);
        if (defaultFaultSignals)
        {
            ChildSafe.SetSignal((int)Signal.SIGSEGV, Libc.SIG_DFL);
            ChildSafe.SetSignal((int)Signal.SIGBUS, Libc.SIG_DFL);
        }
        if (Interlocked.CompareExchange(ref *started, Started, Waiting) != Waiting)
            ChildSafe.Exit(125); // the parent gave up on this child: do not run the body
        ChildSafe.Exit(body(arg));
    }

    /// <summary>The environment variable that turns .NET's W^X mode off; it must be set before the process starts.</summary>
    public const string WriteXorExecuteVariable = "DOTNET_EnableWriteXorExecute";

    /// <summary>
    /// True when .NET's W^X mode is on: the runtime then keeps JIT code and stub data in a file mapped MAP_SHARED
    /// (/memfd:doublemapper), which a forked child would share with its parent and overwrite.
    /// </summary>
    public static bool CodeIsSharedAcrossFork { get; } =
        OperatingSystem.IsLinux() && File.ReadAllText("/proc/self/maps").Contains("/memfd:doublemapper", StringComparison.Ordinal);

    static void RequireCodeNotShared()
    {
        if (CodeIsSharedAcrossFork)
            throw new InvalidOperationException(
                $"fork() refused: .NET's W^X mode is on in this process, so its compiled code lives in a MAP_SHARED mapping " +
                $"that a child would share and overwrite. Start the process with {WriteXorExecuteVariable}=0 " +
                "(the workbook's CLI and test runs do this for you; for VS Code, set it in the environment before starting the editor).");
    }

    static readonly HashSet<MethodInfo> WarmedUp = new();

    /// <summary>Runs the body once in the parent on zeros, so that its calls are bound before any child needs them.</summary>
    static void WarmUp(ChildBody body)
    {
        lock (WarmedUp)
        {
            if (WarmedUp.Contains(body.Method)) return;
            using var scratch = Mman.MapAnonymous(64 * 1024);
            body(scratch.Address);
            WarmedUp.Add(body.Method);
        }
    }

    static void RequireOptimized(MethodInfo method)
    {
        string name = $"{method.DeclaringType?.Name}.{method.Name}";
        if ((method.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0)
            throw new InvalidOperationException(
                $"fork(): mark {name} with [MethodImpl(MethodImplOptions.AggressiveOptimization)]: " +
                "otherwise the runtime may recompile it while it runs in the child, which can hang the child.");
        if (method.Module.Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true)
            throw new InvalidOperationException(
                $"fork(): {name} is in {method.Module.Assembly.GetName().Name}, built without optimizations (Debug), where the JIT " +
                "ignores AggressiveOptimization and compiled code calls into the runtime, which can hang the child. " +
                "Build it with <Optimize>true</Optimize> (the workbook's projects are).");
    }

    static void Prepare(MethodInfo method)
    {
        if (method.IsGenericMethodDefinition || method is System.Reflection.Emit.DynamicMethod)
            return;
        try { RuntimeHelpers.PrepareMethod(method.MethodHandle); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException) { }
    }

    internal static unsafe bool TryReap(int pid, out int status)
    {
        int s;
        int r = Libc.waitpid(pid, &s, WaitOptions.WNOHANG);
        if (r == pid)
        {
            lock (LiveChildren) LiveChildren.Remove(pid);
            status = s;
            return true;
        }
        if (r < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            lock (LiveChildren)
            {
                if (errno == (int)Errno.ECHILD && !LiveChildren.Contains(pid))
                {
                    status = (int)Signal.SIGKILL; // KillAll (a clean-up on SIGINT/SIGTERM) killed and reaped it meanwhile
                    return true;
                }
            }
            throw PosixException.FromLastError($"waitpid(pid={pid}, WNOHANG)");
        }
        status = 0;
        return false;
    }

    /// <summary>SIGKILL and reap; null when the pid was not (or no longer) our child to reap.</summary>
    internal static unsafe int? KillAndReap(int pid)
    {
        Libc.kill(pid, (int)Signal.SIGKILL);
        int s = 0, r;
        do r = Libc.waitpid(pid, &s, 0);
        while (r < 0 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR);
        Forget(pid);
        return r == pid ? s : null;
    }

    /// <summary>The pid was reaped elsewhere (Signals.Waitpid): never signal it again, it may be reused.</summary>
    internal static void Forget(int pid)
    {
        lock (LiveChildren) LiveChildren.Remove(pid);
    }

    /// <summary>Children started and not yet reaped.</summary>
    public static int LiveCount
    {
        get { lock (LiveChildren) return LiveChildren.Count; }
    }

    static void KillAll()
    {
        lock (ForkLock)
        {
            int[] pids;
            lock (LiveChildren) pids = LiveChildren.ToArray();
            foreach (int pid in pids)
                KillAndReap(pid);
        }
    }
}

/// <summary>A running child. Wait for its outcome; Dispose kills and reaps it if it is still running.</summary>
public sealed class ForkedChild : IDisposable
{
    readonly TimeSpan deadline;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly ChildExit? exit;
    ChildOutcome? outcome;

    internal ForkedChild(int pid, int retries, TimeSpan deadline, ChildExit? exit)
    {
        Pid = pid;
        StartRetries = retries;
        this.deadline = deadline;
        this.exit = exit;
    }

    internal ForkedChild(int pid, int retries, int status) : this(pid, retries, TimeSpan.Zero, null) =>
        outcome = ChildOutcome.FromStatus(pid, status, retries);

    public int Pid { get; }

    /// <summary>Children that never started and were replaced before this one.</summary>
    public int StartRetries { get; }

    /// <summary>Waits for the child. A child that overruns its deadline is killed and a TimeoutException thrown.</summary>
    public ChildOutcome Wait()
    {
        if (outcome is { } done)
            return done;
        try
        {
            while (true)
            {
                if (Fork.TryReap(Pid, out int status))
                    return (outcome = ChildOutcome.FromStatus(Pid, status, StartRetries)).Value;
                if (clock.Elapsed > deadline)
                {
                    Fork.KillAndReap(Pid);
                    outcome = new ChildOutcome(Pid, null, Signal.SIGKILL, StartRetries);
                    throw new TimeoutException(
                        $"child {Pid} did not finish within {deadline.TotalSeconds:0.###} s; it was killed with SIGKILL and reaped.");
                }
                // Sleeps in poll() until the child exits (a clean-up's SIGKILL ends it too), at most 100 ms at a time.
                ChildExit.PauseOrSleep(exit, clock, TimeSpan.FromMilliseconds(Math.Clamp((deadline - clock.Elapsed).TotalMilliseconds, 1, 100)));
            }
        }
        finally
        {
            exit?.Dispose();
        }
    }

    public void Dispose()
    {
        exit?.Dispose();
        if (outcome is null)
            outcome = Fork.KillAndReap(Pid) is int status
                ? ChildOutcome.FromStatus(Pid, status, StartRetries)
                : new ChildOutcome(Pid, null, Signal.SIGKILL, StartRetries);
    }
}

/// <summary>
/// A pidfd for a child (pidfd_open, Linux 5.3): the parent sleeps in poll() until the child exits instead of
/// polling waitpid with sleeps, so it leaves the CPU to the child and wakes the moment it ends. Without pidfd_open
/// (an older kernel or libc) it falls back to short sleeps. It never reaps: waitpid still does, as before.
/// </summary>
sealed class ChildExit : IDisposable
{
    static bool unsupported;
    int fd = -1;

    public ChildExit(int pid)
    {
        if (Volatile.Read(ref unsupported)) return;
        try
        {
            fd = Libc.pidfd_open(pid, 0);
            if (fd < 0 && Marshal.GetLastPInvokeError() is (int)Errno.ENOSYS or (int)Errno.EPERM)
                Volatile.Write(ref unsupported, true);
        }
        catch (EntryPointNotFoundException)
        {
            Volatile.Write(ref unsupported, true);
        }
    }

    /// <summary>Waits until the child exits or <paramref name="most"/> has passed (less if poll is interrupted).</summary>
    public unsafe void Pause(Stopwatch clock, TimeSpan most)
    {
        if (fd < 0)
        {
            Sleep(clock);
            return;
        }
        var p = new PollFd { fd = fd, events = Libc.POLLIN };
        _ = Libc.poll(&p, 1, Math.Max(1, (int)most.TotalMilliseconds)); // EINTR or a timeout: the caller looks again
    }

    public static void PauseOrSleep(ChildExit? exit, Stopwatch clock, TimeSpan most)
    {
        if (exit is null) Sleep(clock);
        else exit.Pause(clock, most);
    }

    /// <summary>Without a pidfd: yield for the first 2 ms, then sleep 1 ms at a time.</summary>
    static void Sleep(Stopwatch clock) => Thread.Sleep(clock.ElapsedMilliseconds < 2 ? 0 : 1);

    public void Dispose()
    {
        int f = Interlocked.Exchange(ref fd, -1);
        if (f >= 0) Libc.close(f);
    }
}

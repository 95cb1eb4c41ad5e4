using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Lessons.Posix;

namespace Lessons.L06_MprotectWx;

/// <summary>One step of a demonstration and the permissions /proc/self/maps shows for the address afterwards.</summary>
public sealed record PermissionStep(string Step, string? Permissions)
{
    public override string ToString() => $"{Step,-58} {Permissions ?? "(unmapped)"}";
}

/// <summary>A run of byte writes in a forked child: how it ended and how many bytes it wrote before that.</summary>
public sealed record ChildRun(ChildOutcome Outcome, long BytesWritten)
{
    public override string ToString() => $"{Outcome} after writing {BytesWritten} bytes";
}

/// <summary>Lesson 06, step 1: a page written, made read-only, read, and written again in a child.</summary>
public sealed record ReadOnlyPage(nint Address, int Written, int ReadBack, IReadOnlyList<PermissionStep> Steps, ChildOutcome WriteInChild)
{
    public override string ToString() => Lines(Steps) +
        $"wrote {Written}, read back {ReadBack} after mprotect(PROT_READ)\n" +
        $"a write to 0x{Address:x} in a child: {WriteInChild}";

    internal static string Lines(IEnumerable<PermissionStep> steps) =>
        string.Concat(steps.Select(s => s + "\n"));
}

/// <summary>Lesson 06, step 2: a buffer between two PROT_NONE guard pages, and children that run past its ends.</summary>
public sealed record GuardedBuffer(
    nint BufferStart, long BufferLength, long PageSize, IReadOnlyList<PermissionStep> Layout,
    ChildRun FillBuffer, ChildRun RunOffTheEnd, ChildOutcome ReadBeforeStart)
{
    public override string ToString() => ReadOnlyPage.Lines(Layout) +
        $"fill the {BufferLength}-byte buffer:           {FillBuffer}\n" +
        $"write {BufferLength + PageSize} bytes (one page too many): {RunOffTheEnd}\n" +
        $"read the byte before the buffer:      {ReadBeforeStart}";
}

/// <summary>Lesson 06, step 3: mprotect on a malloc'd pointer, which is not page-aligned.</summary>
public sealed record UnalignedProtect(nint Pointer, long PageSize, PosixException? Error)
{
    public long OffsetInPage => Pointer % PageSize;

    public override string ToString() =>
        $"malloc'd pointer 0x{Pointer:x} is {OffsetInPage} bytes into its {PageSize}-byte page\n" +
        (Error is null ? "mprotect succeeded (unexpected)" : $"mprotect failed: {Error.Message}");
}

/// <summary>Lesson 06, step 4: machine code written to an RW page, made RX, called; and what a child may not do with it.</summary>
public sealed record GeneratedCode(
    Architecture Architecture, byte[] Code, nint Address, IReadOnlyList<PermissionStep> Steps,
    ChildOutcome CallWhileWritable, int Returned, ChildOutcome WriteAfterSealing, string CacheFlush)
{
    public override string ToString() =>
        $"{Architecture} code: {MachineCode.Hex(Code)} at 0x{Address:x}\n" + ReadOnlyPage.Lines(Steps) +
        $"call it while the page is RW (in a child): {CallWhileWritable}\n" +
        $"instruction-cache flush: {CacheFlush}\n" +
        $"call it after mprotect(PROT_READ|PROT_EXEC): returned {Returned}\n" +
        $"write to the RX page (in a child): {WriteAfterSealing}";
}

/// <summary>Lesson 06, step 5: what this kernel answers to a request for writable and executable memory at once.</summary>
public sealed record RwxReport(
    PosixException? MmapError, string? MmapPermissions, PosixException? MprotectError, string? MprotectPermissions,
    bool DotnetWriteXorExecute, string? VariableValue, string? JitEntryPermissions, int RwxRegions)
{
    public bool MmapAllowed => MmapError is null;
    public bool MprotectAllowed => MprotectError is null;

    public override string ToString()
    {
        var s = new StringBuilder();
        s.AppendLine($"{"mmap(PROT_READ|PROT_WRITE|PROT_EXEC):",-55} {(MmapAllowed ? $"allowed, maps shows {MmapPermissions}" : MmapError!.Message)}");
        s.AppendLine($"{"mprotect(an RW page, PROT_READ|PROT_WRITE|PROT_EXEC):",-55} {(MprotectAllowed ? $"allowed, maps shows {MprotectPermissions}" : MprotectError!.Message)}");
        s.AppendLine($".NET's W^X mode in this process: {(DotnetWriteXorExecute ? "on" : "off")} ({Fork.WriteXorExecuteVariable}={VariableValue ?? "(unset)"})");
        s.AppendLine($"a JIT-compiled method's entry point lies in a {JitEntryPermissions ?? "(unmapped)"} region");
        s.Append($"regions that are rwx right now: {RwxRegions}");
        return s.ToString();
    }
}

/// <summary>
/// Lesson 06: page permissions (PROT_*), mprotect, guard pages and W^X. Every forbidden access happens in a forked
/// child (<see cref="Fork"/>), whose SIGSEGV the parent reports; the notebook's process never faults.
/// </summary>
public static class Protections
{
    /// <summary>The page size (sysconf(_SC_PAGESIZE)).</summary>
    public static long PageSize => SysConf.PageSize;

    /// <summary>The permissions /proc/self/maps shows for the region holding <paramref name="address"/> (null: unmapped).</summary>
    public static string? PermissionsAt(nint address) => ProcMaps.Find(address)?.Permissions;

    /// <summary>Maps a page RW, writes <paramref name="value"/>, makes it read-only, reads it back, and lets a child write to it.</summary>
    public static unsafe ReadOnlyPage ReadOnlyDemo(int value = 42)
    {
        using var page = Mman.MapAnonymous(PageSize);
        nint a = page.Address;
        var steps = new List<PermissionStep> { new("mmap(PROT_READ|PROT_WRITE)", PermissionsAt(a)) };
        *(int*)a = value;
        steps.Add(new($"write {value}", PermissionsAt(a)));
        page.Protect(Prot.PROT_READ);
        steps.Add(new("mprotect(PROT_READ)", PermissionsAt(a)));
        int read = *(int*)a;
        var child = WriteInChild(a);
        steps.Add(new("after the child's write (the parent's page)", PermissionsAt(a)));
        return new ReadOnlyPage(a, value, read, steps, child);
    }

    /// <summary>
    /// Maps <paramref name="pages"/> + 2 pages RW and turns the first and the last into PROT_NONE guard pages. A child
    /// fills the buffer (fine), another writes one page past its end, another reads the byte before it.
    /// </summary>
    public static GuardedBuffer GuardPagesDemo(int pages = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pages, 1);
        long page = PageSize, length = pages * page;
        using var all = Mman.MapAnonymous(length + 2 * page);
        nint low = all.Address, buffer = low + (nint)page, high = buffer + (nint)length;
        Mman.Protect(low, page, Prot.PROT_NONE);
        Mman.Protect(high, page, Prot.PROT_NONE);
        var layout = new List<PermissionStep>
        {
            new($"guard page below  0x{low:x}", PermissionsAt(low)),
            new($"buffer            0x{buffer:x}", PermissionsAt(buffer)),
            new($"guard page above  0x{high:x}", PermissionsAt(high)),
        };
        return new GuardedBuffer(buffer, length, page, layout,
            WriteRunInChild(buffer, length), WriteRunInChild(buffer, length + page), ReadInChild(buffer - 1));
    }

    /// <summary>mprotect on a pointer from malloc, which is inside a page, not at its start: EINVAL.</summary>
    public static UnalignedProtect UnalignedDemo()
    {
        long page = PageSize;
        nint p = LibcHeap.Malloc(100);
        try
        {
            // malloc's pointers are 16-byte aligned; one that happened to start a page would be moved 16 bytes in,
            // so that the call below can never change the protection of the heap.
            nint target = p % page == 0 ? p + 16 : p;
            try
            {
                Mman.Protect(target, 100, Prot.PROT_READ);
                Mman.Protect(target - (nint)(target % page), page, Prot.PROT_READ | Prot.PROT_WRITE); // not reached on Linux
                return new UnalignedProtect(target, page, null);
            }
            catch (PosixException e)
            {
                return new UnalignedProtect(target, page, e);
            }
        }
        finally
        {
            LibcHeap.Free(p);
        }
    }

    /// <summary>
    /// Writes <c>int f(void) { return value; }</c> into an RW page, lets a child try to call it (the page is not
    /// executable yet), makes the page RX, flushes the instruction cache, calls it, and lets a child write to it.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">A processor other than x86-64 and arm64.</exception>
    public static unsafe GeneratedCode MachineCodeDemo(int value = 42)
    {
        byte[] code = MachineCode.ReturnConstant(value);
        using var page = Mman.MapAnonymous(PageSize);
        nint a = page.Address;
        var steps = new List<PermissionStep> { new("mmap(PROT_READ|PROT_WRITE)", PermissionsAt(a)) };
        code.CopyTo(new Span<byte>((void*)a, code.Length));
        steps.Add(new($"write the {code.Length} bytes of code", PermissionsAt(a)));
        var callWhileWritable = CallInChild(a);
        page.Protect(Prot.PROT_READ | Prot.PROT_EXEC);
        InstructionCache.Flush(a, code.Length);
        steps.Add(new("mprotect(PROT_READ|PROT_EXEC)", PermissionsAt(a)));
        int returned = MachineCode.Call(a);
        var write = WriteInChild(a);
        steps.Add(new("after the child's write (the parent's page)", PermissionsAt(a)));
        return new GeneratedCode(MachineCode.Architecture, code, a, steps, callWhileWritable, returned, write, InstructionCache.Method);
    }

    /// <summary>Asks for RWX memory with mmap and with mprotect, and reports what the kernel answered and what .NET itself does.</summary>
    public static unsafe RwxReport RwxDemo()
    {
        const Prot rwx = Prot.PROT_READ | Prot.PROT_WRITE | Prot.PROT_EXEC;
        PosixException? mmapError = null, mprotectError = null;
        string? mmapPerms = null, mprotectPerms = null;
        try
        {
            using var m = Mman.MapAnonymous(PageSize, rwx);
            mmapPerms = PermissionsAt(m.Address);
        }
        catch (PosixException e) { mmapError = e; }
        using (var m = Mman.MapAnonymous(PageSize))
        {
            try
            {
                m.Protect(rwx);
                mprotectPerms = PermissionsAt(m.Address);
            }
            catch (PosixException e) { mprotectError = e; }
        }
        delegate*<RwxReport> jitted = &RwxDemo;
        var regions = ProcMaps.Read();
        return new RwxReport(mmapError, mmapPerms, mprotectError, mprotectPerms,
            Fork.CodeIsSharedAcrossFork, Environment.GetEnvironmentVariable(Fork.WriteXorExecuteVariable),
            regions.FirstOrDefault(r => r.Contains((nint)jitted))?.Permissions,
            regions.Count(r => r.Permissions.StartsWith("rwx", StringComparison.Ordinal)));
    }

    // ---- forked children ------------------------------------------------------------------------------------

    /// <summary>What a child body reads (and, for a run of writes, updates) in a small shared mapping.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct ChildArgs
    {
        public nint Target;
        public long Count;
        public long Done;
    }

    /// <summary>Writes one byte at <paramref name="address"/> in a forked child: exit code 0, or killed by SIGSEGV.</summary>
    public static ChildOutcome WriteInChild(nint address) => InChild(WriteByte, address, 1).Outcome;

    /// <summary>Reads one byte at <paramref name="address"/> in a forked child: exit code 0, or killed by SIGSEGV.</summary>
    public static ChildOutcome ReadInChild(nint address) => InChild(ReadByte, address, 1).Outcome;

    /// <summary>Calls <c>int f(void)</c> at <paramref name="address"/> in a forked child: exits with f's low byte, or is killed.</summary>
    public static ChildOutcome CallInChild(nint address) => InChild(CallFunction, address, 1).Outcome;

    /// <summary>Writes <paramref name="count"/> bytes from <paramref name="start"/> up, one by one, in a forked child.</summary>
    public static ChildRun WriteRunInChild(nint start, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return InChild(WriteBytes, start, count);
    }

    static unsafe ChildRun InChild(ChildBody body, nint target, long count)
    {
        if (target == 0)
            throw new ArgumentException("address 0 is what the child bodies treat as 'do nothing'", nameof(target));
        using var shared = Mman.MapAnonymous(SysConf.PageSize, shared: true);
        var args = (ChildArgs*)shared.Address;
        *args = new ChildArgs { Target = target, Count = count };
        var outcome = Fork.Run(body, shared.Address);
        return new ChildRun(outcome, Volatile.Read(ref args->Done));
    }

    // Child bodies: static, compiled before the fork, no allocation. The parent runs each once on zeros first,
    // where Target is 0 and they return at once.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int WriteByte(nint arg)
    {
        var a = (ChildArgs*)arg;
        if (a->Target == 0) return 0;
        Volatile.Write(ref *(byte*)a->Target, (byte)0x5A);
        a->Done = 1;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int ReadByte(nint arg)
    {
        var a = (ChildArgs*)arg;
        if (a->Target == 0) return 0;
        byte b = Volatile.Read(ref *(byte*)a->Target);
        a->Done = 1;
        return b == 0 ? 0 : 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int WriteBytes(nint arg)
    {
        var a = (ChildArgs*)arg;
        if (a->Target == 0) return 0;
        byte* p = (byte*)a->Target;
        for (long i = 0; i < a->Count; i++)
        {
            Volatile.Write(ref p[i], (byte)0x5A);
            Volatile.Write(ref a->Done, i + 1);
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int CallFunction(nint arg)
    {
        var a = (ChildArgs*)arg;
        if (a->Target == 0) return 0;
        var f = (delegate* unmanaged[SuppressGCTransition]<int>)a->Target;
        int r = f();
        a->Done = 1;
        return r & 0xFF;
    }
}

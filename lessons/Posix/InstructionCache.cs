using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// Making freshly written code visible to instruction fetch. x86-64 keeps its instruction cache coherent with
/// data writes, so nothing is needed. arm64 does not: after writing code, the data cache lines must be cleaned
/// and the instruction cache lines invalidated (DC CVAU / IC IVAU, then DSB and ISB). C compilers do it with
/// <c>__builtin___clear_cache</c>, which is not a libc function but a compiler built-in; on Linux/arm64 it calls
/// libgcc's <c>__clear_cache</c>, exported by libgcc_s.so.1 (which the .NET runtime itself links against, so
/// it is already loaded). On aarch64 that function does the work in libgcc's own <c>__aarch64_sync_cache_range</c>,
/// which is hidden (not exported), so <c>__clear_cache</c> is the name to look up. Linux/arm64 has no cache-flush
/// system call (32-bit ARM's <c>cacheflush</c> does not exist there; user code runs the cache instructions itself),
/// so libgcc is the simplest route from C#. It lives here because it is native code: only this assembly calls any. The arm64 branch is selected at run time; only x86-64 is tested here.
/// </summary>
public static class InstructionCache
{
    static readonly Lazy<nint> ClearCache = new(() =>
        NativeLibrary.TryLoad("libgcc_s.so.1", out var lib) && NativeLibrary.TryGetExport(lib, "__clear_cache", out var f) ? f : 0);

    /// <summary>What <see cref="Flush"/> does on this processor, in words.</summary>
    public static string Method => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => "nothing: x86-64 keeps the instruction cache coherent with writes",
        Architecture.Arm64 => "libgcc_s.so.1's __clear_cache(begin, end) (what __builtin___clear_cache calls)",
        var other => $"not supported on {other}",
    };

    /// <summary>True when libgcc_s.so.1 exports <c>__clear_cache</c> in this process (it does on x86-64 too, as a no-op).</summary>
    public static bool LibgccClearCacheAvailable => ClearCache.Value != 0;

    /// <summary>Makes the code in [address, address + length) visible to instruction fetch on this processor.</summary>
    /// <exception cref="PlatformNotSupportedException">A processor other than x86-64 and arm64, or arm64 without libgcc_s.</exception>
    public static unsafe void Flush(nint address, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        switch (RuntimeInformation.ProcessArchitecture)
        {
            case Architecture.X64:
                return;
            case Architecture.Arm64:
                nint f = ClearCache.Value;
                if (f == 0)
                    throw new PlatformNotSupportedException(
                        "arm64 needs an instruction-cache flush after writing code, and libgcc_s.so.1's __clear_cache was not found.");
                ((delegate* unmanaged<nint, nint, void>)f)(address, address + (nint)length);
                return;
            default:
                throw new PlatformNotSupportedException($"no instruction-cache flush is known for {RuntimeInformation.ProcessArchitecture} (x86-64 and arm64 are).");
        }
    }
}

using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// Checked wrappers for glibc's malloc family. The wrapper remembers which blocks it handed out, so that
/// freeing a pointer it never returned, or freeing twice, is a clear error here instead of glibc aborting
/// the whole process (which is what C would do).
/// </summary>
public static class LibcHeap
{
    static readonly object Gate = new();
    static readonly Dictionary<nint, long> Live = new();
    static readonly HashSet<nint> Freed = new();

    /// <summary>malloc. Contents are whatever was there before. malloc(0) returns a unique, freeable pointer.</summary>
    public static nint Malloc(long size)
    {
        // The call's text is built only on failure: a managed allocation here can start a GC on this thread, whose own
        // mallocs would change what the lessons show about the thread's cache.
        string Call() => $"malloc(size={size})";
        Checked.RequireLinux("malloc");
        nint p = Libc.malloc(size >= 0 ? (nuint)size : Checked.Size(Call(), nameof(size), size));
        if (p == 0)
            throw PosixException.FromLastError(Call());
        return Remember(p, size);
    }

    /// <summary>calloc: zeroed memory; glibc itself refuses a count × size that overflows (ENOMEM).</summary>
    public static nint Calloc(long count, long size)
    {
        string Call() => $"calloc(nmemb={count}, size={size})"; // built only on failure, as in Malloc
        Checked.RequireLinux("calloc");
        nint p = Libc.calloc(count >= 0 ? (nuint)count : Checked.Size(Call(), nameof(count), count),
            size >= 0 ? (nuint)size : Checked.Size(Call(), nameof(size), size));
        if (p == 0)
            throw PosixException.FromLastError(Call(),
                Math.BigMul(count, size) > long.MaxValue ? "count × size overflows size_t" : null);
        return Remember(p, count * size);
    }

    /// <summary>
    /// realloc. <c>Realloc(0, n)</c> is malloc; <c>Realloc(p, 0)</c> frees p and returns 0 (glibc's behaviour).
    /// On failure the old block is left as it was, and the exception says so.
    /// </summary>
    public static nint Realloc(nint ptr, long size)
    {
        string call = $"realloc(ptr={CFormat.Hex(ptr)}, size={size})";
        Checked.RequireLinux("realloc");
        nuint n = Checked.Size(call, nameof(size), size);
        long oldSize = ptr == 0 ? 0 : Take("realloc", ptr); // taken first: glibc may hand the address out again at once
        nint p = Libc.realloc(ptr, n);
        int errno = Marshal.GetLastPInvokeError();
        if (p == 0 && size == 0 && ptr != 0)
            return 0; // glibc freed it
        if (p == 0)
        {
            if (ptr != 0) Remember(ptr, oldSize);
            throw new PosixException(call, errno, ptr == 0 ? null : "the old block is unchanged and still yours to free");
        }
        return Remember(p, size);
    }

    /// <summary>free. <c>Free(0)</c> does nothing, as in C.</summary>
    public static void Free(nint ptr)
    {
        if (ptr == 0)
            return;
        Checked.RequireLinux("free");
        Take("free", ptr);
        Libc.free(ptr);
    }

    /// <summary>malloc_usable_size: how many bytes the chunk really holds (at least what was asked).</summary>
    public static long UsableSize(nint ptr)
    {
        Checked.RequireLinux("malloc_usable_size");
        lock (Gate)
        {
            if (!Live.ContainsKey(ptr)) throw Misuse("malloc_usable_size", ptr);
            return (long)Libc.malloc_usable_size(ptr);
        }
    }

    /// <summary>mallopt. glibc returns 0 for a rejected value without setting errno: reported as EINVAL.</summary>
    public static void Mallopt(MalloptParam param, int value)
    {
        Checked.RequireLinux("mallopt");
        if (Libc.mallopt((int)param, value) != 1)
            throw new PosixException($"mallopt(param={param}, value={value})", (int)Errno.EINVAL, "glibc rejected the value");
    }

    /// <summary>
    /// malloc_trim(pad): gives free memory back to the kernel, keeping <paramref name="pad"/> bytes free at the top of
    /// the main heap (the break comes down) and releasing whole free pages inside the arenas (madvise). True when
    /// anything was released. It cannot fail.
    /// </summary>
    public static bool Trim(long pad = 0)
    {
        Checked.RequireLinux("malloc_trim");
        return Libc.malloc_trim(Checked.Size($"malloc_trim(pad={pad})", nameof(pad), pad)) == 1;
    }

    /// <summary>mallinfo2: the main arena's statistics.</summary>
    public static MallInfo2 MallInfo()
    {
        Checked.RequireLinux("mallinfo2");
        return Libc.mallinfo2();
    }

    /// <summary>True when p is a block this wrapper handed out and nobody freed yet.</summary>
    public static bool IsLive(nint p)
    {
        lock (Gate) return Live.ContainsKey(p);
    }

    static nint Remember(nint p, long size)
    {
        lock (Gate)
        {
            Live[p] = size;
            Freed.Remove(p);
        }
        return p;
    }

    /// <summary>Checks that p is live and marks it freed, in one step (two threads cannot both free it).</summary>
    static long Take(string call, nint p)
    {
        lock (Gate)
        {
            if (!Live.Remove(p, out long size))
                throw Misuse(call, p);
            if (Freed.Count > 100_000) Freed.Clear(); // remembers recent frees only, to name double frees
            Freed.Add(p);
            return size;
        }
    }

    static HeapMisuseException Misuse(string call, nint p)
    {
        bool freed;
        lock (Gate) freed = Freed.Contains(p);
        return new HeapMisuseException(freed
            ? $"{call}({CFormat.Hex(p)}): double free — this block was already freed. In C this is undefined behaviour (glibc aborts with 'free(): double free detected')."
            : $"{call}({CFormat.Hex(p)}): this pointer was never returned by malloc, calloc or realloc. In C this is undefined behaviour (glibc aborts with 'free(): invalid pointer').");
    }
}

/// <summary>A pointer used in a way C leaves undefined (double free, freeing what was never allocated).</summary>
public sealed class HeapMisuseException(string message) : InvalidOperationException(message);

namespace Lessons.Posix;

/// <summary>
/// The bare calls, for code that measures them or replays a trace against them: each returns exactly what C returns
/// (0 for a failed malloc, <see cref="MAP_FAILED"/> for a failed mmap) and checks nothing. Right after a failure,
/// <see cref="PosixException.FromLastError"/> names the errno. Everywhere else use the checked wrappers
/// (<see cref="LibcHeap"/>, <see cref="Mman"/>).
/// </summary>
public static class Unchecked
{
    /// <summary>What mmap returns on failure: <c>(void *) -1</c>.</summary>
    public static nint MAP_FAILED => Libc.MAP_FAILED;

    /// <summary>malloc(size).</summary>
    public static nint Malloc(nuint size) => Libc.malloc(size);

    /// <summary>calloc(count, size).</summary>
    public static nint Calloc(nuint count, nuint size) => Libc.calloc(count, size);

    /// <summary>realloc(pointer, size).</summary>
    public static nint Realloc(nint pointer, nuint size) => Libc.realloc(pointer, size);

    /// <summary>free(pointer): only a pointer that malloc, calloc or realloc returned, once (glibc aborts otherwise).</summary>
    public static void Free(nint pointer) => Libc.free(pointer);

    /// <summary>mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0).</summary>
    public static nint MapAnonymous(nuint length) =>
        Libc.mmap(0, length, (int)(Prot.PROT_READ | Prot.PROT_WRITE), (int)(MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS), -1, 0);

    /// <summary>munmap(address, length): 0, or -1 with errno set.</summary>
    public static int Unmap(nint address, nuint length) => Libc.munmap(address, length);
}

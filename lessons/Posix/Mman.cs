using Microsoft.Win32.SafeHandles;

namespace Lessons.Posix;

/// <summary>Checked wrappers for &lt;sys/mman.h&gt;: mmap, munmap, mprotect, madvise, memfd_create.</summary>
public static class Mman
{
    /// <summary>mmap, returning an owning handle that munmaps on Dispose.</summary>
    public static Mapping Map(long length, Prot prot, MapFlags flags, SafeFileHandle? fd = null, long offset = 0, nint address = 0)
    {
        nint p = MapRaw(length, prot, flags, fd is null ? -1 : fd.Number(), offset, address);
        return new Mapping(p, length, prot, flags);
    }

    /// <summary>An anonymous private read-write mapping: what malloc uses for large blocks.</summary>
    public static Mapping MapAnonymous(long length, Prot prot = Prot.PROT_READ | Prot.PROT_WRITE, bool shared = false) =>
        Map(length, prot, MapFlags.MAP_ANONYMOUS | (shared ? MapFlags.MAP_SHARED : MapFlags.MAP_PRIVATE));

    /// <summary>mmap returning the bare address; the caller must munmap it.</summary>
    public static nint MapRaw(long length, Prot prot, MapFlags flags, int fd = -1, long offset = 0, nint address = 0)
    {
        string Call() => $"mmap(addr={CFormat.Hex(address)}, length={length}, prot={CFormat.Flags(prot)}, flags={CFormat.Flags(flags)}, fd={fd}, offset={offset})";
        Checked.RequireLinux("mmap");
        nuint len = Checked.Size(Call(), nameof(length), length);
        nint p = Libc.mmap(address, len, (int)prot, (int)flags, fd, offset);
        if (p == Libc.MAP_FAILED)
            throw PosixException.FromLastError(Call());
        return p;
    }

    /// <summary>munmap.</summary>
    public static void Unmap(nint address, long length)
    {
        string call = $"munmap(addr={CFormat.Hex(address)}, length={length})";
        Checked.RequireLinux("munmap");
        if (Libc.munmap(address, Checked.Size(call, nameof(length), length)) != 0)
            throw PosixException.FromLastError(call);
    }

    /// <summary>mprotect: changes the protection of whole pages; the address must be page-aligned.</summary>
    public static void Protect(nint address, long length, Prot prot)
    {
        string call = $"mprotect(addr={CFormat.Hex(address)}, len={length}, prot={CFormat.Flags(prot)})";
        Checked.RequireLinux("mprotect");
        long page = SysConf.PageSize; // read before the call: sysconf would reset the saved errno
        if (Libc.mprotect(address, Checked.Size(call, nameof(length), length), (int)prot) != 0)
            throw PosixException.FromLastError(call,
                address % page != 0 ? $"the address is not a multiple of the page size ({page})" : null);
    }

    /// <summary>madvise.</summary>
    public static void Advise(nint address, long length, Advice advice)
    {
        string call = $"madvise(addr={CFormat.Hex(address)}, length={length}, advice={advice})";
        Checked.RequireLinux("madvise");
        if (Libc.madvise(address, Checked.Size(call, nameof(length), length), (int)advice) != 0)
            throw PosixException.FromLastError(call);
    }

    /// <summary>memfd_create: an anonymous file living in memory; it appears in /proc/self/maps as /memfd:NAME.</summary>
    public static SafeFileHandle MemfdCreate(string name, uint flags = 0)
    {
        string call = $"memfd_create(name=\"{name}\", flags={flags})";
        Checked.RequireLinux("memfd_create");
        int fd = Libc.memfd_create(name, flags);
        if (fd < 0)
            throw PosixException.FromLastError(call);
        return FileDescriptors.Own(fd);
    }
}

/// <summary>An owned mapping: Dispose (or the finalizer, as a safety net) munmaps it.</summary>
public sealed class Mapping : MemoryHandle
{
    internal Mapping(nint address, long length, Prot prot, MapFlags flags) : base(address, length)
    {
        Protection = prot;
        Flags = flags;
    }

    /// <summary>The protection as last set through this handle.</summary>
    public Prot Protection { get; private set; }

    public MapFlags Flags { get; }

    /// <summary>mprotect over the whole mapping.</summary>
    public void Protect(Prot prot)
    {
        Mman.Protect(Address, Length, prot);
        Protection = prot;
    }

    protected override bool ReleaseHandle() => Libc.munmap(handle, (nuint)Length) == 0;

    public override string ToString() =>
        IsClosed ? "Mapping (unmapped)" : $"Mapping {CFormat.Hex(handle)}..{CFormat.Hex(handle + (nint)Length)} ({Length} bytes, {CFormat.Flags(Protection)}, {CFormat.Flags(Flags)})";
}


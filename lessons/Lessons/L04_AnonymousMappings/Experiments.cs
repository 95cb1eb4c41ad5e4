using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lessons.Posix;

namespace Lessons.L04_AnonymousMappings;

/// <summary>Reading every page of a fresh mapping, then writing every page: minor faults and resident growth of each pass.</summary>
public sealed record ReadThenWrite(long Pages, long ReadFaults, long ReadGrowthKiB, long WriteFaults, long WriteGrowthKiB)
{
    public override string ToString() =>
        $"{Pages} pages: reading each one: {ReadFaults,6} minor faults, VmRSS +{ReadGrowthKiB,6} KiB; " +
        $"then writing each one: {WriteFaults,6} minor faults, VmRSS +{WriteGrowthKiB,6} KiB";
}

/// <summary>mremap growing a mapping, once where the pages after it are free and once where they are taken.</summary>
public sealed record RemapReport(
    long OldLength, long NewLength,
    nint InPlaceBefore, nint InPlaceAfter, string? InPlaceLineAfter,
    nint BlockedAddress, string? BlockedLineBefore, PosixException? WithoutMayMove,
    nint MovedTo, string? MovedLineAfter, bool ContentsKept, bool OldAddressUnmapped)
{
    public bool InPlaceStayed => InPlaceBefore == InPlaceAfter;

    public bool Moved => MovedTo != BlockedAddress;
}

/// <summary>How a forked child that released memory through the wrong call ended, and what the call returned if it did.</summary>
public sealed record MismatchRun(string What, ChildOutcome Outcome, bool CallReturned, int Result, int Errno, string Stderr)
{
    public override string ToString() =>
        $"{What,-58} {Outcome}" + (CallReturned ? $", the call returned {Result}" + (Result != 0 ? $" with errno {PosixException.NameOf(Errno)}" : "") : ", the call never returned");
}

/// <summary>Lesson 04's experiments: what a read or a write costs, faults after munmap, mremap, and the mmap failure value.</summary>
public static class Experiments
{
    static long Page => SysConf.PageSize;

    /// <summary>
    /// Maps <paramref name="pages"/> pages (marked MADV_NOHUGEPAGE, so every page is its own fault), reads one byte of
    /// each, then writes one byte of each, counting this thread's minor faults and VmRSS growth for each pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static ReadThenWrite ReadThenWriteEveryPage(long pages = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        long page = Page;
        using var m = Mman.MapAnonymous(pages * page);
        Mman.Advise(m.Address, pages * page, Advice.MADV_NOHUGEPAGE);
        Read(m.Address, 0, page); // compiled before counting: the JIT's faults are not the mapping's
        AnonymousMappings.Touch(m.Address, 0, page);
        long rss0 = ProcStatus.ResidentKiB(), f0 = AnonymousMappings.ThreadFaults();
        long sum = Read(m.Address, pages, page);
        long f1 = AnonymousMappings.ThreadFaults(), rss1 = ProcStatus.ResidentKiB();
        AnonymousMappings.Touch(m.Address, pages, page);
        long f2 = AnonymousMappings.ThreadFaults(), rss2 = ProcStatus.ResidentKiB();
        if (sum != 0) throw new InvalidOperationException("a fresh anonymous mapping read as non-zero");
        return new ReadThenWrite(pages, f1 - f0, rss1 - rss0, f2 - f1, rss2 - rss1);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static unsafe long Read(nint address, long pages, long page)
    {
        byte* p = (byte*)address;
        long sum = 0;
        for (long i = 0; i < pages; i++)
            sum += Volatile.Read(ref p[i * page]);
        return sum;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct ChildArgs
    {
        public nint Target;
        public long Length;
        public long Done;
        public int Result;
        public int Errno;
        public int StderrFdPlusOne; // 0: leave stderr alone (the warm-up runs on zeros)
    }

    /// <summary>
    /// Maps a page, writes to it, and has a forked child read it while it is mapped and again after munmap: the first
    /// child exits with code 0, the second is killed by SIGSEGV. (Another thread could map something at the freed
    /// address in between; then the second child reads that instead and exits normally.)
    /// </summary>
    public static unsafe (ChildOutcome WhileMapped, ChildOutcome AfterUnmap) TouchBeforeAndAfterUnmap()
    {
        // 2 MiB, and the child reads its lowest byte: the small mappings the fork itself makes meanwhile (its control
        // page, the arguments page) go into the top end of the hole munmap leaves, not over the address read.
        var m = Mman.MapAnonymous(2L << 20);
        nint a = m.Address;
        *(byte*)a = 42;
        var before = InChild(ReadTarget, a, 0).Outcome;
        m.Dispose();
        var after = InChild(ReadTarget, a, 0).Outcome;
        return (before, after);
    }

    /// <summary>
    /// The free/munmap mismatch, each in a forked child: free() of a pointer mmap returned (once with a readable page of
    /// zeros before it, once with an unreadable one), then munmap() of pointers malloc returned (a small block, and a
    /// large block that glibc mapped for itself).
    /// </summary>
    public static IReadOnlyList<MismatchRun> ReleaseMismatches()
    {
        long page = Page;
        var runs = new List<MismatchRun>();
        using (var two = Mman.MapAnonymous(2 * page))
        {
            nint p = two.Address + (nint)page; // the page before p is mapped and holds zeros
            runs.Add(Run("free() of an mmap'ed page (8 bytes before it read 0)", FreeTarget, p, 0));
            Mman.Protect(two.Address, page, Prot.PROT_NONE); // now the page before p cannot be read
            runs.Add(Run("free() of an mmap'ed page (the page before it PROT_NONE)", FreeTarget, p, 0));
        }
        nint small = Unchecked.Malloc(100), large = Unchecked.Malloc(1 << 20);
        var kept = new List<nint>();
        try
        {
            if (small == 0 || large == 0) throw PosixException.FromLastError("malloc");
            // Only 16-byte aligned: about 1 in 256 small blocks starts on a page, and munmap would take that page out of
            // the heap. Keep such a block (so malloc cannot hand it back) and take another.
            while (small % page == 0 && kept.Count < 8)
            {
                kept.Add(small);
                small = Unchecked.Malloc(100);
                if (small == 0) throw PosixException.FromLastError("malloc");
            }
            runs.Add(Run($"munmap() of malloc(100) = {CFormat.Hex(small)}", UnmapTarget, small, 100));
            runs.Add(Run($"munmap() of malloc(1 MiB) = {CFormat.Hex(large)}", UnmapTarget, large, 1 << 20));
        }
        finally
        {
            Unchecked.Free(small);
            Unchecked.Free(large);
            foreach (nint block in kept) Unchecked.Free(block);
        }
        return runs;
    }

    /// <summary>Runs <paramref name="body"/> in a child whose stderr goes to a temporary file, and returns what it wrote
    /// there too (glibc's message before an abort).</summary>
    static MismatchRun Run(string what, ChildBody body, nint target, long length)
    {
        string path = Path.Combine(Path.GetTempPath(), $"workbook-04-stderr-{Environment.ProcessId}-{Guid.NewGuid():N}");
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, 4096, FileOptions.DeleteOnClose);
        int fd = (int)file.SafeFileHandle.DangerousGetHandle();
        var (outcome, args) = InChild(body, target, length, fd);
        file.Position = 0;
        string stderr = new StreamReader(file).ReadToEnd().Trim();
        return new MismatchRun(what, outcome, args.Done != 0, args.Result, args.Errno, stderr);
    }

    static unsafe (ChildOutcome Outcome, ChildArgs Args) InChild(ChildBody body, nint target, long length, int stderrFd = -1)
    {
        using var shared = Mman.MapAnonymous(Page, shared: true);
        var a = (ChildArgs*)shared.Address;
        *a = new ChildArgs { Target = target, Length = length, StderrFdPlusOne = stderrFd + 1 };
        var outcome = Fork.Run(body, shared.Address);
        return (outcome, *a);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void RedirectStderr(ChildArgs* a)
    {
        if (a->StderrFdPlusOne > 0) ChildSafe.Dup2(a->StderrFdPlusOne - 1, 2);
    }

    // Child bodies: compiled before the fork, no allocation. The warm-up runs them on zeros: Target 0, where free(NULL)
    // does nothing and munmap(NULL, 0) fails with EINVAL, so both calls are bound before any child makes them.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int ReadTarget(nint arg)
    {
        var a = (ChildArgs*)arg;
        if (a->Target == 0) return 0;
        a->Result = Volatile.Read(ref *(byte*)a->Target);
        a->Done = 1;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int FreeTarget(nint arg)
    {
        var a = (ChildArgs*)arg;
        RedirectStderr(a);
        ChildSafe.Free(a->Target);
        a->Done = a->Target == 0 ? 0 : 1;
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe int UnmapTarget(nint arg)
    {
        var a = (ChildArgs*)arg;
        RedirectStderr(a);
        int r = ChildSafe.Munmap(a->Target, (nuint)a->Length);
        a->Result = r;
        a->Errno = r == 0 ? 0 : *ChildSafe.ErrnoLocation();
        a->Done = a->Target == 0 ? 0 : 1;
        return 0;
    }

    /// <summary>
    /// mremap at work. (1) Maps <paramref name="pages"/> pages where the same number after them is free (it maps twice
    /// as many and unmaps the upper half), and grows it to double without MREMAP_MAYMOVE: it stays. (2) Maps
    /// <paramref name="pages"/> pages filled with a pattern and a PROT_NONE page right after them, then tries to double
    /// it without MREMAP_MAYMOVE (ENOMEM) and with it (it moves; the pattern moves with it; the old address is unmapped).
    /// </summary>
    public static unsafe RemapReport Remap(long pages = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pages);
        long page = Page, len = pages * page, len2 = 2 * len;

        nint start = Mman.MapRaw(len2, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS);
        long mapped = len2;
        nint inPlaceAfter = 0;
        string? inPlaceLine = null;
        try
        {
            Mman.Unmap(start + (nint)len, len);
            mapped = len;
            try
            {
                inPlaceAfter = Mman.Remap(start, len, len2, 0);
                mapped = len2;
                inPlaceLine = AnonymousMappings.MapsLine(start);
            }
            catch (PosixException) { } // another thread took the freed pages: no growth to report
        }
        finally { Mman.Unmap(start, mapped); }

        // len bytes of data and, right after them, a PROT_NONE page of the same mapping: the next page is taken.
        nint old = Mman.MapRaw(len + page, Prot.PROT_READ | Prot.PROT_WRITE, MapFlags.MAP_PRIVATE | MapFlags.MAP_ANONYMOUS);
        nint guardPage = old + (nint)len, moved = old;
        bool dataMapped = true;
        try
        {
            Mman.Protect(guardPage, page, Prot.PROT_NONE);
            long* q = (long*)old;
            for (long i = 0; i < len / 8; i++) q[i] = i * 0x0101;
            string? lineBefore = AnonymousMappings.MapsLine(old);
            PosixException? refused = null;
            try { Mman.Remap(old, len, len2, 0); }
            catch (PosixException e) { refused = e; }
            moved = Mman.Remap(old, len, len2, MremapFlags.MREMAP_MAYMOVE);
            dataMapped = false; // the data lives at moved now, len2 bytes
            long* r = (long*)moved;
            bool kept = true;
            for (long i = 0; i < len / 8; i++) kept &= r[i] == i * 0x0101;
            var oldRegion = ProcMaps.Find(old);
            return new RemapReport(len, len2, start, inPlaceAfter, inPlaceLine, old, lineBefore, refused,
                moved, AnonymousMappings.MapsLine(moved), kept, moved != old && oldRegion is null);
        }
        finally
        {
            Mman.Unmap(guardPage, page);
            if (dataMapped) Mman.Unmap(old, len);
            else Mman.Unmap(moved, len2);
        }
    }

    /// <summary>What a failing mmap (length 0) returns through the raw layer, with its errno.</summary>
    public static (nint Raw, PosixException Error) FailingMmap()
    {
        nint raw = Unchecked.MapAnonymous(0);
        var error = PosixException.FromLastError("mmap(addr=0x0, length=0, prot=PROT_READ|PROT_WRITE, flags=MAP_PRIVATE|MAP_ANONYMOUS, fd=-1, offset=0)");
        if (raw != Unchecked.MAP_FAILED)
        {
            Unchecked.Unmap(raw, 0);
            throw new InvalidOperationException($"mmap of length 0 returned {CFormat.Hex(raw)}, expected MAP_FAILED");
        }
        return (raw, error);
    }
}

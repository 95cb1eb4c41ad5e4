using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Lessons.Posix;

namespace Lessons.Heap;

/// <summary>
/// A teaching allocator over glibc's malloc that checks how it is used, in the spirit of Valgrind's memcheck:
/// <list type="bullet">
/// <item>every block remembers its call site (the caller's method, file and line, filled in by the compiler);</item>
/// <item>freed memory is poisoned with <see cref="FreedByte"/> and kept in a FIFO quarantine (still allocated in
/// libc, up to <see cref="QuarantineLimit"/> bytes) before it is really freed, so a write through a dangling
/// pointer lands in poison that <see cref="Check"/> finds;</item>
/// <item><see cref="GuardBytes"/> guard bytes (<see cref="GuardByte"/>) follow each block, so <see cref="Check"/> finds writes past the end;</item>
/// <item>double free and freeing a pointer it never returned throw <see cref="HeapMisuseException"/> and change nothing;</item>
/// <item><see cref="Report"/> prints the HEAP SUMMARY and LEAK SUMMARY.</item>
/// </list>
/// Poison and guard bytes catch bad <i>writes</i>, and only when <see cref="Check"/> looks; a bad <i>read</i> changes
/// nothing they could see. With <c>pageGuards</c> on (Electric Fence's technique) each block gets pages of its own from
/// mmap, ending just before a PROT_NONE page, and free turns its pages PROT_NONE: a read or write after free, or past the
/// end of the block's 16-byte-rounded size, is a segmentation fault at the faulty instruction (run such code in a forked
/// child). It costs at least two pages per block, and the few slack bytes between the size and the 16-byte boundary
/// are only checked for writes.
/// Size 0 is allowed, as in glibc: <c>Malloc(0)</c> returns a unique pointer that must be freed.
/// <see cref="Realloc"/> always moves the block (as Valgrind's does), so a stale pointer to the old block is caught.
/// Dispose really frees everything, leaks included.
/// </summary>
public sealed class CheckingHeap : IDisposable
{
    /// <summary>The byte freed memory is filled with (as in Microsoft's debug CRT).</summary>
    public const byte FreedByte = 0xDD;

    /// <summary>The byte the guard zone after each block is filled with.</summary>
    public const byte GuardByte = 0xFD;

    readonly object gate = new();
    readonly Dictionary<nint, HeapBlock> live = new();
    readonly Dictionary<nint, HeapBlock> quarantined = new();
    readonly Queue<HeapBlock> quarantine = new();
    readonly HashSet<nint> released = new();
    readonly List<HeapProblem> foundOnRelease = new();
    readonly Dictionary<nint, Mapping> pagesOf = new(); // with page guards: each block's own mapping
    long allocs, frees, bytesAllocated, quarantineBytes;
    HeapReport? final;

    /// <param name="quarantineLimit">How many freed bytes to keep poisoned before really freeing the oldest (FIFO); 0 frees at once.</param>
    /// <param name="guardBytes">Guard bytes after each block (0 for none; with page guards, the slack up to 16 bytes).</param>
    /// <param name="pageGuards">Each block on pages of its own before a PROT_NONE page, PROT_NONE once freed.</param>
    public CheckingHeap(long quarantineLimit = 1 << 20, int guardBytes = 16, bool pageGuards = false)
    {
        PageGuards = pageGuards;
        ArgumentOutOfRangeException.ThrowIfNegative(quarantineLimit);
        ArgumentOutOfRangeException.ThrowIfNegative(guardBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(guardBytes, 4096);
        QuarantineLimit = quarantineLimit;
        GuardBytes = guardBytes;
    }

    /// <summary>The most freed bytes kept in quarantine.</summary>
    public long QuarantineLimit { get; }

    /// <summary>Guard bytes after each block.</summary>
    public int GuardBytes { get; }

    /// <summary>Blocks live on their own pages, followed by a PROT_NONE page, and freed blocks' pages are PROT_NONE.</summary>
    public bool PageGuards { get; }

    /// <summary>Freed bytes now held in quarantine.</summary>
    public long QuarantineBytes { get { lock (gate) return quarantineBytes; } }

    /// <summary>The blocks allocated and not freed, oldest first.</summary>
    public IReadOnlyList<HeapBlock> LiveBlocks { get { lock (gate) return live.Values.ToList(); } }

    /// <summary>malloc: <paramref name="size"/> bytes whose contents are undefined (here: whatever libc gave).</summary>
    public nint Malloc(long size, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        Allocate($"malloc(size={size})", size, zero: false, new CallSite(member, file, line));

    /// <summary>calloc: count × size zeroed bytes; a product that overflows is ENOMEM, as in glibc.</summary>
    public nint Calloc(long count, long size, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        string call = $"calloc(nmemb={count}, size={size})";
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        long total;
        try { total = checked(count * size); }
        catch (OverflowException)
        {
            throw new PosixException(call, (int)Errno.ENOMEM, "count × size overflows");
        }
        return Allocate(call, total, zero: true, new CallSite(member, file, line));
    }

    /// <summary>
    /// realloc: a new block of <paramref name="size"/> bytes holding the old contents (up to the smaller size); the old block
    /// is freed (poisoned, quarantined). Realloc(0, n) is Malloc(n). Realloc(p, 0) frees p and returns 0, as glibc's realloc
    /// does (C23 leaves realloc(p, 0) undefined: portable code calls free). On failure it throws and the old block is
    /// untouched and still allocated.
    /// </summary>
    public nint Realloc(nint ptr, long size, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        nint p = TryReallocCore(ptr, size, new CallSite(member, file, line), out var error);
        return error is null ? p : throw error;
    }

    /// <summary>
    /// realloc as C has it: returns 0 on failure (and then the old block is untouched and still yours to free). With size 0
    /// it frees the block and also returns 0, as glibc does: the caller cannot tell the two apart from the result, one
    /// reason C23 made realloc(p, 0) undefined. Misuse (a pointer this heap did not return, a negative size) still throws.
    /// </summary>
    public nint TryRealloc(nint ptr, long size, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        nint p = TryReallocCore(ptr, size, new CallSite(member, file, line), out var error);
        return error is PosixException ? 0 : error is null ? p : throw error;
    }

    /// <summary>free: poisons the block and quarantines it. Free(0) does nothing. A double or invalid free throws, changing nothing.</summary>
    public void Free(nint ptr, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (ptr == 0) return;
        lock (gate)
        {
            ThrowIfDisposed();
            var block = Take("free", ptr);
            Retire(block, new CallSite(member, file, line));
        }
    }

    /// <summary>strdup: <paramref name="text"/> as UTF-8 bytes and a terminating 0 byte, in a new block.</summary>
    public nint Strdup(string text, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        ArgumentNullException.ThrowIfNull(text);
        return StrdupBytes(Encoding.UTF8.GetBytes(text), member, file, line);
    }

    /// <summary>strdup of raw bytes (which must not contain 0): the bytes and a terminating 0 byte, in a new block.</summary>
    public nint StrdupBytes(ReadOnlySpan<byte> utf8, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (utf8.Contains((byte)0))
            throw new ArgumentException("a C string cannot contain a 0 byte before its end", nameof(utf8));
        nint p = Allocate($"strdup(length={utf8.Length})", utf8.Length + 1L, zero: false, new CallSite(member, file, line));
        var span = Bytes(p, utf8.Length + 1L);
        utf8.CopyTo(span);
        span[^1] = 0;
        return p;
    }

    /// <summary>The requested size of a live block.</summary>
    public long SizeOf(nint ptr)
    {
        lock (gate) return Find("size", ptr).Size;
    }

    /// <summary>The bytes of a live block (its requested size; the guard bytes are not included).</summary>
    public Span<byte> Span(nint ptr)
    {
        long size = SizeOf(ptr);
        return Bytes(ptr, size);
    }

    /// <summary>True when ptr is a block this heap returned and nobody freed.</summary>
    public bool IsLive(nint ptr)
    {
        lock (gate) return live.ContainsKey(ptr);
    }

    /// <summary>The C string at ptr (a live block), as UTF-8 bytes without the terminating 0.</summary>
    public ReadOnlySpan<byte> CString(nint ptr)
    {
        var span = Span(ptr);
        int end = span.IndexOf((byte)0);
        if (end < 0) throw new InvalidOperationException($"0x{ptr:x}: no terminating 0 byte inside the block ({span.Length} bytes)");
        return span[..end];
    }

    /// <summary>The C string at ptr (a live block), decoded from UTF-8.</summary>
    public string ReadString(nint ptr) => Encoding.UTF8.GetString(CString(ptr));

    /// <summary>
    /// A checkpoint: scans every quarantined block for bytes that are not the poison value (writes after free),
    /// and every block's guard bytes (overflows). Also returns what was found in blocks that left the quarantine
    /// since the last check. Finds nothing when all is well.
    /// </summary>
    public IReadOnlyList<HeapProblem> Check()
    {
        lock (gate)
        {
            ThrowIfDisposed();
            var problems = new List<HeapProblem>(foundOnRelease);
            foundOnRelease.Clear();
            foreach (var b in live.Values)
                if (GuardProblem(b) is { } g) problems.Add(g);
            foreach (var b in quarantine)
            {
                if (PageGuards) continue; // PROT_NONE: any access faults, so nothing can have changed them
                if (PoisonProblem(b) is { } p) problems.Add(p);
                if (GuardProblem(b) is { } g) problems.Add(g);
            }
            return problems;
        }
    }

    /// <summary>The summary now (or, after Dispose, as it was just before).</summary>
    public HeapReport Report()
    {
        lock (gate)
        {
            if (final is not null) return final;
            var leaks = live.Values.GroupBy(b => b.AllocatedAt)
                .Select(g => new LeakSite(g.Key, g.Sum(b => b.Size), g.Count()))
                .OrderByDescending(s => s.Bytes).ThenBy(s => s.Site.File, StringComparer.Ordinal).ThenBy(s => s.Site.Line).ToList();
            return new HeapReport(live.Values.Sum(b => b.Size), live.Count, allocs, frees, bytesAllocated, leaks);
        }
    }

    /// <summary>Really frees everything (quarantine and leaks); <see cref="Report"/> keeps the last summary.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (final is not null) return;
            final = Report();
            foreach (var b in quarantine) Release(b.Address);
            foreach (var b in live.Values) Release(b.Address);
            quarantine.Clear();
            quarantined.Clear();
            live.Clear();
            released.Clear();
            quarantineBytes = 0;
        }
    }

    nint Allocate(string call, long size, bool zero, CallSite site)
    {
        Checked.Size(call, nameof(size), size);
        Checked.RequireLinux("malloc");
        if (size > long.MaxValue - GuardBytes)
            throw new PosixException(call, (int)Errno.ENOMEM, "no heap can hold that many bytes");
        lock (gate)
        {
            ThrowIfDisposed();
            nint p = PageGuards ? AllocatePages(call, size) : zero ? Unchecked.Calloc(1, (nuint)(size + GuardBytes)) : Unchecked.Malloc((nuint)(size + GuardBytes));
            if (p == 0) throw PosixException.FromLastError(call);
            Fill(p + (nint)size, GuardLength(size), GuardByte);
            var block = new HeapBlock(p, size, site, null);
            live.Add(p, block);
            released.Remove(p);
            allocs++;
            bytesAllocated += size;
            return p;
        }
    }

    nint TryReallocCore(nint ptr, long size, CallSite site, out Exception? error)
    {
        error = null;
        string call = $"realloc(ptr=0x{ptr:x}, size={size})";
        Checked.Size(call, nameof(size), size);
        if (ptr == 0)
        {
            try { return Allocate(call, size, zero: false, site); }
            catch (PosixException e) { error = e; return 0; }
        }
        lock (gate)
        {
            ThrowIfDisposed();
            var old = Find("realloc", ptr);
            if (size == 0)
            {
                live.Remove(ptr);
                Retire(old, site);
                return 0;
            }
            nint p;
            try { p = Allocate(call, size, zero: false, site); }
            catch (PosixException e) { error = new PosixException(call, e.ErrorNumber, "the old block is unchanged and still yours to free"); return 0; }
            Copy(ptr, p, Math.Min(old.Size, size));
            live.Remove(ptr);
            Retire(old, site);
            return p;
        }
    }

    // Pages that end where the block ends (rounded up to 16), then one PROT_NONE page. mmap zeroes them.
    nint AllocatePages(string call, long size)
    {
        long page = SysConf.PageSize, rounded = (size + 15) & ~15L;
        if (rounded > long.MaxValue - 2 * page)
            throw new PosixException(call, (int)Errno.ENOMEM, "no heap can hold that many bytes");
        long data = Math.Max(page, (rounded + page - 1) / page * page);
        var mapping = Mman.MapAnonymous(data + page);
        try
        {
            Mman.Protect(mapping.Address + (nint)data, page, Prot.PROT_NONE);
        }
        catch
        {
            mapping.Dispose();
            throw;
        }
        nint p = mapping.Address + (nint)(data - rounded);
        pagesOf.Add(p, mapping);
        return p;
    }

    long GuardLength(long size) => PageGuards ? Math.Min(GuardBytes, ((size + 15) & ~15L) - size) : GuardBytes;

    // Gives a block's memory back: to libc, or (page guards) its mapping to munmap.
    void Release(nint address)
    {
        if (pagesOf.Remove(address, out var mapping)) mapping.Dispose();
        else Unchecked.Free(address);
    }

    void Retire(HeapBlock block, CallSite freedAt)
    {
        var freed = block with { FreedAt = freedAt };
        frees++;
        if (PageGuards)
        {
            if (GuardProblem(freed) is { } overflow) foundOnRelease.Add(overflow); // last chance to read it
            var mapping = pagesOf[freed.Address];
            Mman.Protect(mapping.Address, mapping.Length - SysConf.PageSize, Prot.PROT_NONE);
        }
        else
            Fill(freed.Address, freed.Size, FreedByte);
        quarantine.Enqueue(freed);
        quarantined.Add(freed.Address, freed);
        quarantineBytes += freed.Size;
        while (quarantine.Count > 0 && quarantineBytes > QuarantineLimit)
        {
            var oldest = quarantine.Dequeue();
            quarantined.Remove(oldest.Address);
            quarantineBytes -= oldest.Size;
            if (!PageGuards && PoisonProblem(oldest) is { } p) foundOnRelease.Add(p);
            if (!PageGuards && GuardProblem(oldest) is { } g) foundOnRelease.Add(g);
            Release(oldest.Address);
            if (released.Count > 100_000) released.Clear();
            released.Add(oldest.Address);
        }
    }

    HeapBlock Take(string call, nint ptr)
    {
        var b = Find(call, ptr);
        live.Remove(ptr);
        return b;
    }

    HeapBlock Find(string call, nint ptr)
    {
        ThrowIfDisposed();
        if (live.TryGetValue(ptr, out var b)) return b;
        if (quarantined.TryGetValue(ptr, out var q))
            throw new HeapMisuseException(
                $"{call}(0x{ptr:x}): double free or use after free — this block ({q.Size} bytes) was allocated at {q.AllocatedAt} and already freed at {q.FreedAt}. The heap is unchanged.");
        if (released.Contains(ptr))
            throw new HeapMisuseException(
                $"{call}(0x{ptr:x}): this block was freed earlier (it has left the quarantine) — a double free or use after free. The heap is unchanged.");
        var inside = live.Values.FirstOrDefault(x => ptr > x.Address && ptr < x.Address + (nint)Math.Max(x.Size, 1));
        throw new HeapMisuseException(inside is not null
            ? $"{call}(0x{ptr:x}): invalid pointer — it points {ptr - inside.Address} bytes into the block 0x{inside.Address:x} ({inside.Size} bytes) allocated at {inside.AllocatedAt}, not to its start. The heap is unchanged."
            : $"{call}(0x{ptr:x}): invalid pointer — this heap never returned it. The heap is unchanged.");
    }

    static HeapProblem? PoisonProblem(HeapBlock b) =>
        Damage(b.Address, b.Size, FreedByte) is var (offset, count, found) && count > 0
            ? new HeapProblem(HeapProblemKind.WriteAfterFree, b, offset, (int)Math.Min(count, int.MaxValue), found) : null;

    HeapProblem? GuardProblem(HeapBlock b) =>
        Damage(b.Address + (nint)b.Size, GuardLength(b.Size), GuardByte) is var (offset, count, found) && count > 0
            ? new HeapProblem(HeapProblemKind.Overflow, b, b.Size + offset, (int)count, found) : null;

    const int Chunk = 1 << 30;

    /// <summary>The first byte in [p, p + length) that is not <paramref name="expected"/>, and how many are not.</summary>
    static (long Offset, long Count, byte Found) Damage(nint p, long length, byte expected)
    {
        long first = -1, count = 0;
        byte found = 0;
        for (long at = 0; at < length; at += Chunk)
        {
            var bytes = Bytes(p + (nint)at, Math.Min(Chunk, length - at));
            int i = bytes.IndexOfAnyExcept(expected);
            if (i < 0) continue;
            if (first < 0) { first = at + i; found = bytes[i]; }
            foreach (byte x in bytes[i..]) if (x != expected) count++;
        }
        return (Math.Max(first, 0), count, found);
    }

    static void Fill(nint p, long length, byte value)
    {
        for (long at = 0; at < length; at += Chunk)
            Bytes(p + (nint)at, Math.Min(Chunk, length - at)).Fill(value);
    }

    static void Copy(nint from, nint to, long length)
    {
        for (long at = 0; at < length; at += Chunk)
            Bytes(from + (nint)at, Math.Min(Chunk, length - at)).CopyTo(Bytes(to + (nint)at, Math.Min(Chunk, length - at)));
    }

    static unsafe Span<byte> Bytes(nint p, long length)
    {
        if (length > int.MaxValue)
            throw new NotSupportedException($"a span of {length} bytes is longer than .NET spans allow");
        return new Span<byte>((void*)p, (int)length);
    }

    void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(final is not null, this);
}

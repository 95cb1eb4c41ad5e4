namespace Lessons.Posix;

/// <summary>
/// The real program break (brk/sbrk). It belongs to glibc's malloc in a .NET process, whose other threads may
/// call malloc at any moment: reading it is always safe. Moving it races with them (sbrk is not done under
/// malloc's lock), so a lesson that grows or shrinks the real break does it in a forked child, where only one
/// thread exists. Shrinking is allowed only back over memory this class itself grew, and only while the break
/// still ends there; anything else is refused with a clear error. Exercises use a simulated break instead.
/// </summary>
public static class ProgramBreak
{
    static readonly object Gate = new();
    // The region [ownedStart, ownedEnd) at the top of the break that this class grew, if the break still ends there.
    static nint ownedStart, ownedEnd;

    /// <summary>sbrk(0): the current break.</summary>
    public static nint Current
    {
        get
        {
            Checked.RequireLinux("sbrk");
            nint p = Libc.sbrk(0);
            if (p == Libc.MAP_FAILED)
                throw PosixException.FromLastError("sbrk(increment=0)");
            return p;
        }
    }

    /// <summary>sbrk(increment): moves the break and returns the old one.</summary>
    public static nint Sbrk(long increment)
    {
        lock (Gate)
        {
            nint now = Current;
            if (increment < 0)
                RequireOwned(now, now + (nint)increment, $"sbrk(increment={increment})");
            nint old = Libc.sbrk((nint)increment);
            if (old == Libc.MAP_FAILED)
                throw PosixException.FromLastError($"sbrk(increment={increment})");
            Track(old, old + (nint)increment);
            return old;
        }
    }

    /// <summary>brk(address): sets the break.</summary>
    public static void Brk(nint address)
    {
        lock (Gate)
        {
            nint now = Current;
            if (address < now)
                RequireOwned(now, address, $"brk(addr={CFormat.Hex(address)})");
            if (Libc.brk(address) != 0)
                throw PosixException.FromLastError($"brk(addr={CFormat.Hex(address)})");
            Track(now, address);
        }
    }

    static void RequireOwned(nint now, nint target, string call)
    {
        if (now != ownedEnd || target < ownedStart)
            throw new InvalidOperationException(
                $"{call}: refused — the break would drop below memory that glibc's malloc owns. The workbook may only give back " +
                (ownedEnd == 0
                    ? $"what it grew itself, and it has not grown the break (now {CFormat.Hex(now)})."
                    : $"what it grew itself: {CFormat.Hex(ownedStart)}..{CFormat.Hex(ownedEnd)}, and the break is now {CFormat.Hex(now)}.") +
                " To practise shrinking, use the simulated break (an mmap'd arena, as the exercises use).");
    }

    static void Track(nint from, nint to)
    {
        if (to >= from)
        {
            if (from != ownedEnd) ownedStart = from; // someone else moved the break: a fresh owned region starts here
            ownedEnd = to;
        }
        else
        {
            ownedEnd = to;
        }
        if (ownedEnd <= ownedStart) ownedStart = ownedEnd = 0;
    }
}

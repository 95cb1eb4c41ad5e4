namespace Lessons.Heap;

/// <summary>The per-id byte pattern payloads are filled with: 64 KiB of fixed pseudo-random bytes, each id starting elsewhere.</summary>
static class PayloadPattern
{
    const int Length = 1 << 16;
    static readonly byte[] Bytes = Make();

    static byte[] Make()
    {
        var bytes = new byte[Length];
        ulong x = 0x9E3779B97F4A7C15;
        for (int i = 0; i < Length; i++)
        {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            bytes[i] = (byte)(x >> 24);
        }
        return bytes;
    }

    static int Start(int id) => (int)((uint)id * 40503u % Length);

    public static unsafe void Fill(nint p, int size, int id)
    {
        var target = new Span<byte>((void*)p, size);
        int from = Start(id);
        while (target.Length > 0)
        {
            int n = Math.Min(target.Length, Length - from);
            Bytes.AsSpan(from, n).CopyTo(target);
            target = target[n..];
            from = 0;
        }
    }

    public static unsafe int? FirstDifference(nint p, int size, int id)
    {
        var actual = new ReadOnlySpan<byte>((void*)p, size);
        int from = Start(id), offset = 0;
        while (actual.Length > 0)
        {
            int n = Math.Min(actual.Length, Length - from);
            int diff = actual[..n].CommonPrefixLength(Bytes.AsSpan(from, n));
            if (diff < n) return offset + diff;
            actual = actual[n..];
            offset += n;
            from = 0;
        }
        return null;
    }
}

namespace Lessons.Posix;

/// <summary>Values written as C programmers read them: addresses in hex, modes in octal, flags joined with '|'.</summary>
public static class CFormat
{
    /// <summary>0x7f3a2c000000.</summary>
    public static string Hex(nint value) => "0x" + value.ToString("x");

    /// <summary>An int (a key_t, a flag word) as C's <c>%x</c> prints it: its 32 bits, unsigned (0x80000003, never sign-extended).</summary>
    public static string Hex(int value) => "0x" + ((uint)value).ToString("x");

    /// <summary>0x666.</summary>
    public static string Hex(long value) => "0x" + value.ToString("x");

    /// <summary>0600.</summary>
    public static string Octal(int mode) => "0" + Convert.ToString(mode, 8);

    /// <summary>Flags written as C would: PROT_READ|PROT_WRITE, or the number when no name fits.</summary>
    public static string Flags<T>(T value) where T : struct, Enum => value.ToString().Replace(", ", "|");
}

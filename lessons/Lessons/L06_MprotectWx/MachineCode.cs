using System.Runtime.InteropServices;

namespace Lessons.L06_MprotectWx;

/// <summary>
/// The machine code lesson 06 writes into memory: a function <c>int f(void)</c> that returns a constant, for the
/// processor this process runs on, and the instruction-cache flush that must follow before the code runs.
/// </summary>
public static class MachineCode
{
    /// <summary>The processor this process runs on.</summary>
    public static Architecture Architecture => RuntimeInformation.ProcessArchitecture;

    /// <summary>
    /// The bytes of <c>int f(void) { return value; }</c> for this processor.
    /// x86-64: <c>mov eax, imm32; ret</c> = B8 imm32 C3 (6 bytes).
    /// arm64: <c>movz w0, #low16; [movk w0, #high16, lsl #16;] ret</c>, each instruction 4 bytes, little-endian
    /// (42 gives 0x52800540 0xD65F03C0).
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Any other processor.</exception>
    public static byte[] ReturnConstant(int value = 42) => ReturnConstant(value, Architecture);

    /// <summary>The same function for a given processor (to show both encodings on any machine).</summary>
    public static byte[] ReturnConstant(int value, Architecture architecture)
    {
        switch (architecture)
        {
            case Architecture.X64:
            {
                var code = new byte[6];
                code[0] = 0xB8; // mov eax, imm32
                BitConverter.TryWriteBytes(code.AsSpan(1, 4), value); // little-endian on x86-64
                code[5] = 0xC3; // ret
                return code;
            }
            case Architecture.Arm64:
            {
                uint bits = unchecked((uint)value);
                var words = new List<uint> { 0x52800000u | ((bits & 0xFFFF) << 5) }; // movz w0, #low16
                if (bits >> 16 != 0)
                    words.Add(0x72A00000u | ((bits >> 16) << 5)); // movk w0, #high16, lsl #16
                words.Add(0xD65F03C0u); // ret
                var code = new byte[words.Count * 4];
                for (int i = 0; i < words.Count; i++)
                {
                    code[4 * i] = (byte)words[i];
                    code[4 * i + 1] = (byte)(words[i] >> 8);
                    code[4 * i + 2] = (byte)(words[i] >> 16);
                    code[4 * i + 3] = (byte)(words[i] >> 24);
                }
                return code;
            }
            default:
                throw NotSupported(architecture);
        }
    }

    /// <summary>Calls the function at <paramref name="entry"/> (which must be executable) as <c>int f(void)</c>.</summary>
    public static unsafe int Call(nint entry)
    {
        if (entry == 0)
            throw new ArgumentException("a null function pointer cannot be called", nameof(entry));
        var f = (delegate* unmanaged<int>)entry;
        return f();
    }

    /// <summary>The bytes as hex, e.g. "B8 2A 00 00 00 C3".</summary>
    public static string Hex(ReadOnlySpan<byte> code) => string.Join(' ', code.ToArray().Select(b => b.ToString("X2")));

    internal static PlatformNotSupportedException NotSupported(Architecture architecture) =>
        new($"lesson 06 writes machine code for x86-64 and arm64 only; this process runs on {architecture}. " +
            "The rest of the lesson (mprotect, guard pages, /proc/self/maps) works anywhere Linux runs.");
}

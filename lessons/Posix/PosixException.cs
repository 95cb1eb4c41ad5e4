using System.Runtime.InteropServices;

namespace Lessons.Posix;

/// <summary>
/// A libc call failed. The message names the call with its arguments, the errno's symbolic name and the
/// C library's text, e.g. <c>shmget(key=0x666, size=256): EINVAL (Invalid argument)</c>.
/// </summary>
public sealed class PosixException : Exception
{
    public PosixException(string call, int errno, string? hint = null)
        : base(Describe(call, errno) + (hint is null ? "" : " — " + hint))
    {
        Call = call;
        ErrorNumber = errno;
    }

    /// <summary>The call and its arguments, as written in the message.</summary>
    public string Call { get; }

    /// <summary>The raw errno value.</summary>
    public int ErrorNumber { get; }

    /// <summary>The errno as a symbolic value (compare with <c>Errno.EINVAL</c> …).</summary>
    public Errno Errno => (Errno)ErrorNumber;

    /// <summary>The symbolic name (<c>EINVAL</c>), or <c>errno N</c> for a value the workbook does not name.</summary>
    public string ErrnoName => NameOf(ErrorNumber);

    public static string NameOf(int errno) =>
        Enum.IsDefined(typeof(Errno), errno) ? ((Errno)errno).ToString() : $"errno {errno}";

    static string Describe(string call, int errno) =>
        $"{call}: {NameOf(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})";

    /// <summary>The exception for the errno the last libc call left behind. Call right after the failed call.</summary>
    public static PosixException FromLastError(string call, string? hint = null) =>
        new(call, Marshal.GetLastPInvokeError(), hint);
}

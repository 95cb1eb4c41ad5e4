using System.Runtime.InteropServices;
using Lessons.L06_MprotectWx;
using Lessons.Posix;
using TestTools;

namespace Lessons.Tests.L06_MprotectWx;

public class ProtectionsTests
{
    [Fact]
    public void AReadOnlyPageCanBeReadButAWriteKillsTheChild()
    {
        var r = Protections.ReadOnlyDemo(1234);
        Assert.Equal(["rw-p", "rw-p", "r--p", "r--p"], r.Steps.Select(s => s.Permissions));
        Assert.Equal(1234, r.ReadBack);
        Assert.Equal(Signal.SIGSEGV, r.WriteInChild.KilledBy);
        Assert.Contains("killed by SIGSEGV", r.ToString());
    }

    [Fact]
    public void GuardPagesStopARunOffEitherEndAtTheFirstByteOutside()
    {
        var g = Protections.GuardPagesDemo(pages: 2);
        Assert.Equal(2 * g.PageSize, g.BufferLength);
        Assert.Equal(["---p", "rw-p", "---p"], g.Layout.Select(s => s.Permissions));
        Assert.Equal(0, g.FillBuffer.Outcome.ExitCode);
        Assert.Equal(g.BufferLength, g.FillBuffer.BytesWritten);
        Assert.Equal(Signal.SIGSEGV, g.RunOffTheEnd.Outcome.KilledBy);
        Assert.Equal(g.BufferLength, g.RunOffTheEnd.BytesWritten); // every byte of the buffer, not one more
        Assert.Equal(Signal.SIGSEGV, g.ReadBeforeStart.KilledBy);
    }

    [Fact]
    public void GuardPagesNeedAtLeastOnePageOfBuffer() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Protections.GuardPagesDemo(0));

    [Fact]
    public void MprotectOnAMallocPointerFailsWithEinvalAndAHint()
    {
        var u = Protections.UnalignedDemo();
        Assert.NotEqual(0, u.OffsetInPage);
        Assert.NotNull(u.Error);
        Assert.Equal(Errno.EINVAL, u.Error.Errno);
        Assert.Contains("mprotect(addr=0x", u.Error.Message);
        Assert.Contains("not a multiple of the page size", u.Error.Message);
    }

    [RequiresTool(Tool.MachineCode)]
    public void CodeRunsOnlyAfterTheSwitchToRxAndCannotBeWrittenThen()
    {
        var c = Protections.MachineCodeDemo(42);
        Assert.Equal(42, c.Returned);
        Assert.Equal(["rw-p", "rw-p", "r-xp", "r-xp"], c.Steps.Select(s => s.Permissions));
        Assert.Equal(Signal.SIGSEGV, c.CallWhileWritable.KilledBy);
        Assert.Equal(Signal.SIGSEGV, c.WriteAfterSealing.KilledBy);
    }

    [RequiresTool(Tool.MachineCode)]
    public void ACallInAChildReturnsThroughItsExitCode()
    {
        using var page = Mman.MapAnonymous(Protections.PageSize);
        MachineCode.ReturnConstant(77).CopyTo(page.Span);
        page.Protect(Prot.PROT_READ | Prot.PROT_EXEC);
        InstructionCache.Flush(page.Address, page.Length);
        Assert.Equal(77, Protections.CallInChild(page.Address).ExitCode);
        Assert.Equal(77, MachineCode.Call(page.Address));
    }

    [Theory]
    [InlineData(42, "B8 2A 00 00 00 C3")]
    [InlineData(-1, "B8 FF FF FF FF C3")]
    public void X64EncodingIsMovEaxImmRet(int value, string hex) =>
        Assert.Equal(hex, MachineCode.Hex(MachineCode.ReturnConstant(value, Architecture.X64)));

    [Theory]
    [InlineData(42, "40 05 80 52 C0 03 5F D6")] // movz w0, #42; ret
    [InlineData(0x12345, "A0 68 84 52 20 00 A0 72 C0 03 5F D6")] // movz w0, #0x2345; movk w0, #1, lsl #16; ret
    public void Arm64EncodingIsMovzMovkRetLittleEndian(int value, string hex) =>
        Assert.Equal(hex, MachineCode.Hex(MachineCode.ReturnConstant(value, Architecture.Arm64)));

    [Fact]
    public void OtherProcessorsGetAClearError()
    {
        var e = Assert.Throws<PlatformNotSupportedException>(() => MachineCode.ReturnConstant(42, Architecture.RiscV64));
        Assert.Contains("x86-64 and arm64", e.Message);
    }

    [Fact]
    public void TheCacheFlushIsFoundOnThisMachine()
    {
        // libgcc_s.so.1 (linked by the .NET runtime) exports __clear_cache on every Linux architecture; on x86-64 it is a no-op.
        Assert.True(InstructionCache.LibgccClearCacheAvailable);
        using var page = Mman.MapAnonymous(Protections.PageSize);
        InstructionCache.Flush(page.Address, page.Length);
    }

    [Fact]
    public void RwxIsReportedNotAssumed()
    {
        var r = Protections.RwxDemo();
        if (r.MmapAllowed) Assert.Equal("rwxp", r.MmapPermissions);
        else Assert.Equal(Errno.EACCES, r.MmapError!.Errno);
        if (r.MprotectAllowed) Assert.Equal("rwxp", r.MprotectPermissions);
        else Assert.Equal(Errno.EACCES, r.MprotectError!.Errno);
        Assert.False(r.DotnetWriteXorExecute); // the test host runs with DOTNET_EnableWriteXorExecute=0 (tests.runsettings)
        Assert.Equal("0", r.VariableValue);
        Assert.Contains("W^X mode in this process: off", r.ToString());
    }

    [Fact]
    public void ChildHelpersRefuseAddressZero() =>
        Assert.Throws<ArgumentException>(() => Protections.WriteInChild(0));
}

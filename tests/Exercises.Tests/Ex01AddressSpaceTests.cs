using Exercises;
using Grading;
using Lessons.Posix;

namespace Exercises.Tests;

public class Ex01AddressSpaceTests
{
    const string Exe = "/usr/bin/demo";

    [Fact, Graded(lesson: 1, points: 2)]
    public void ParsesALibraryLine()
    {
        var l = Ex01AddressSpace.ParseLine("7f1e2a000000-7f1e2a028000 r--p 00001000 08:01 5678   /usr/lib/x86_64-linux-gnu/libc.so.6");
        Assert.Equal(new MapsLine(0x7f1e2a000000, 0x7f1e2a028000, "r--p", 0x1000, "08:01", 5678, "/usr/lib/x86_64-linux-gnu/libc.so.6"), l);
    }

    [Fact, Graded(lesson: 1, points: 2)]
    public void ParsesAnAnonymousLineWithNoPath()
    {
        var l = Ex01AddressSpace.ParseLine("7fa094021000-7fa098000000 ---p 00000000 00:00 0 ");
        Assert.Null(l.Path);
        Assert.Equal(0x7fa098000000UL - 0x7fa094021000UL, l.End - l.Start);
        Assert.Equal("---p", l.Permissions);
    }

    [Fact, Graded(lesson: 1, points: 1)]
    public void RejectsALineInAnotherFormat() =>
        Assert.Throws<FormatException>(() => Ex01AddressSpace.ParseLine("hello world"));

    [Theory, Graded(lesson: 1, points: 3)]
    [InlineData("[heap]", "rw-p", RegionKind.Heap)]
    [InlineData("[stack]", "rw-p", RegionKind.Stack)]
    [InlineData(null, "rw-p", RegionKind.Anonymous)]
    [InlineData(Exe, "r-xp", RegionKind.Text)]
    [InlineData(Exe, "rw-p", RegionKind.Data)]
    [InlineData(Exe, "r--p", RegionKind.ReadOnlyData)]
    [InlineData("/usr/lib/x86_64-linux-gnu/libc.so.6", "r-xp", RegionKind.SharedLibrary)]
    [InlineData("/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.0/System.Private.CoreLib.dll", "r--s", RegionKind.FileBacked)]
    public void ClassifiesTheCommonKinds(string? path, string perms, RegionKind expected) =>
        Assert.Equal(expected, Ex01AddressSpace.Classify(new MapsLine(0x1000, 0x2000, perms, 0, "00:00", 0, path), Exe));

    [Fact, Graded(lesson: 1, points: 1)]
    public void ClassifiesSharedAnonymousMemoryAsSharedMemory()
    {
        var l = Ex01AddressSpace.ParseLine("7f3a1c5e6000-7f3a1c5e7000 rw-s 00000000 00:01 2051                       /dev/zero (deleted)");
        Assert.Equal("/dev/zero (deleted)", l.Path);
        Assert.Equal(RegionKind.SharedMemory, Ex01AddressSpace.Classify(l, Exe));
    }

    // BEGIN HIDDEN TESTS
    [Fact, Graded(lesson: 1, points: 2, Hidden = true)]
    public void KeepsSpacesInPathsAndTheDeletedMark()
    {
        var l = Ex01AddressSpace.ParseLine("7f1e2a400000-7f1e2a401000 r--p 00000000 08:01 99     /home/me/My Files/data.bin (deleted)");
        Assert.Equal("/home/me/My Files/data.bin (deleted)", l.Path);
        Assert.Equal(RegionKind.FileBacked, Ex01AddressSpace.Classify(l, Exe));
    }

    [Fact, Graded(lesson: 1, points: 2, Hidden = true)]
    public void HandlesVsyscallAboveTheUserHalf()
    {
        var l = Ex01AddressSpace.ParseLine("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]");
        Assert.Equal(0xffffffffff600000UL, l.Start);
        Assert.Equal(RegionKind.Vsyscall, Ex01AddressSpace.Classify(l, Exe));
    }

    [Theory, Graded(lesson: 1, points: 2, Hidden = true)]
    [InlineData("/SYSV00000666 (deleted)", RegionKind.SharedMemory)]
    [InlineData("/dev/shm/workbook demo", RegionKind.SharedMemory)]
    [InlineData("/usr/lib/libfoo.so.1.2.3 (deleted)", RegionKind.SharedLibrary)]
    [InlineData("/usr/lib/libfoo.so", RegionKind.SharedLibrary)]
    [InlineData("/home/me/notes.sonnet", RegionKind.FileBacked)]
    [InlineData("/memfd:doublemapper (deleted)", RegionKind.FileBacked)]
    [InlineData("/dev/zero (deleted)", RegionKind.SharedMemory)]
    [InlineData("[vvar]", RegionKind.Vvar)]
    [InlineData("[vvar_vclock]", RegionKind.Vvar)]
    [InlineData("[anon:GC heap]", RegionKind.Anonymous)]
    [InlineData("[uprobes]", RegionKind.Other)]
    public void ClassifiesTheOddOnes(string path, RegionKind expected) =>
        Assert.Equal(expected, Ex01AddressSpace.Classify(new MapsLine(0, 0x1000, "rw-s", 0, "00:05", 1, path), Exe));

    [Fact, Graded(lesson: 1, points: 3, Hidden = true)]
    public void AgreesWithTheKernelOnEveryLineOfThisProcess()
    {
        string exe = ProcMaps.ExecutablePath();
        using var sharedAnonymous = Mman.MapAnonymous(SysConf.PageSize, shared: true); // so a "/dev/zero (deleted)" line is there
        var lines = File.ReadAllLines("/proc/self/maps");
        // The lesson's classifier: the kernel's lines, with shared anonymous memory as SharedMemory.
        var reference = ProcMaps.Classify(lines, exe)
            .Select(r => Lessons.L01_AddressSpace.AddressSpace.IsSharedAnonymous(r) ? r with { Kind = RegionKind.SharedMemory } : r).ToList();
        Assert.True(lines.Length > 10);
        Assert.Contains(reference, r => r.Kind == RegionKind.SharedMemory && r.Path == "/dev/zero (deleted)");
        foreach (var (text, r) in lines.Zip(reference))
        {
            var l = Ex01AddressSpace.ParseLine(text);
            Assert.Equal(r.Start, l.Start);
            Assert.Equal((r.End, r.Permissions, r.Offset, r.Device, r.Inode, r.Path), (l.End, l.Permissions, l.Offset, l.Device, l.Inode, l.Path));
            var expected = r.Kind == RegionKind.Bss ? RegionKind.Anonymous : r.Kind;
            Assert.Equal(expected, Ex01AddressSpace.Classify(l, exe));
        }
    }
    // END HIDDEN TESTS
}

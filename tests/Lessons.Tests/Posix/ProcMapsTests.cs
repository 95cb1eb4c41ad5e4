using Lessons.Posix;

namespace Lessons.Tests.Posix;

public class ProcMapsTests
{
    const string Exe = "/usr/bin/demo";

    static readonly string[] Sample =
    [
        "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234   /usr/bin/demo",
        "55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234   /usr/bin/demo",
        "55d0c0a03000-55d0c0a04000 rw-p 00002000 08:01 1234   /usr/bin/demo",
        "55d0c0a04000-55d0c0a05000 rw-p 00000000 00:00 0 ",
        "55d0c1c00000-55d0c1c21000 rw-p 00000000 00:00 0      [heap]",
        "7f1e2a000000-7f1e2a028000 r--p 00000000 08:01 5678   /usr/lib/x86_64-linux-gnu/libc.so.6",
        "7f1e2a100000-7f1e2a200000 rw-s 00000000 00:05 98306  /SYSV00000666 (deleted)",
        "7f1e2a300000-7f1e2a301000 rw-s 00000000 00:19 77     /dev/shm/workbook demo",
        "7f1e2a400000-7f1e2a401000 r--p 00000000 08:01 99     /home/me/My Files/data.bin (deleted)",
        "7ffd5d9e0000-7ffd5da01000 rw-p 00000000 00:00 0      [stack]",
        "7ffd5dbf2000-7ffd5dbf6000 r--p 00000000 00:00 0      [vvar]",
        "7ffd5dbf6000-7ffd5dbf8000 r-xp 00000000 00:00 0      [vdso]",
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
    ];

    [Fact]
    public void ParsesAndClassifiesEveryKindOfLine()
    {
        var r = ProcMaps.Classify(Sample, Exe);
        Assert.Equal(
            [RegionKind.ReadOnlyData, RegionKind.Text, RegionKind.Data, RegionKind.Bss, RegionKind.Heap,
             RegionKind.SharedLibrary, RegionKind.SharedMemory, RegionKind.SharedMemory, RegionKind.FileBacked,
             RegionKind.Stack, RegionKind.Vvar, RegionKind.Vdso, RegionKind.Vsyscall],
            r.Select(x => x.Kind));
        Assert.Equal(0x55d0c0a01000UL, r[1].Start);
        Assert.Equal(0x1000UL, r[1].Size);
        Assert.True(r[1].Executable && !r[1].Writable);
        Assert.Null(r[3].Path);
        Assert.True(r[6].Shared && r[6].Deleted);
        Assert.Equal("/dev/shm/workbook demo", r[7].Path);
        Assert.Equal("/home/me/My Files/data.bin (deleted)", r[8].Path);
        Assert.True(r[8].Deleted);
        Assert.Equal(0xffffffffff601000UL, r[12].End);
        Assert.Equal("--xp", r[12].Permissions);
    }

    [Fact]
    public void SharedAnonymousMemoryIsSharedMemoryAndAPrivateDevZeroMappingIsAFile()
    {
        var r = ProcMaps.Classify(
            ["7f1e2a500000-7f1e2a501000 rw-s 00000000 00:01 1031   /dev/zero (deleted)",
             "7f1e2a600000-7f1e2a601000 rw-p 00000000 00:05 4      /dev/zero"], Exe);
        Assert.Equal([RegionKind.SharedMemory, RegionKind.FileBacked], r.Select(x => x.Kind));
    }

    [Fact]
    public void ALineInAnotherFormatIsAFormatExceptionQuotingIt()
    {
        var e = Assert.Throws<FormatException>(() => ProcMaps.Parse("hello world", Exe));
        Assert.Contains("\"hello world\"", e.Message);
    }

    [Fact]
    public void TheLiveProcessHasItsUsualRegions()
    {
        var regions = ProcMaps.Read();
        Assert.Contains(regions, r => r.Kind == RegionKind.Stack);
        Assert.Contains(regions, r => r.Kind == RegionKind.Vdso);
        Assert.Contains(regions, r => r.Kind == RegionKind.Text && r.Path == ProcMaps.ExecutablePath());
        Assert.Contains(regions, r => r.Kind == RegionKind.SharedLibrary && r.Path!.Contains("libc.so"));
        Assert.True(regions.Zip(regions.Skip(1)).All(p => p.First.End <= p.Second.Start)); // sorted, disjoint
    }
}

using Lessons.L04_AnonymousMappings;

namespace Workbook.L04_AnonymousMappings;

/// <summary>
/// `mmap-probe`: lesson 04's mmap-threshold probe in a fresh process (nothing has moved glibc's dynamic threshold
/// yet), then the same probe once more: the first probe's free of its mapped blocks has raised the threshold.
/// One tab-separated line per block (<see cref="MmapThreshold.ToLine"/>).
/// </summary>
static class MmapProbeCommand
{
    public static int Execute(string[] args) =>
        CommandLine.Run("mmap-probe", "usage: mmap-probe   (no options; prints phase, request, chunk, own mapping per block)", args,
            a => a.NextOption() is { } option ? throw CommandLine.Arguments.Unknown(option) : 0, _ => Run());

    static int Run()
    {
        foreach (var phase in new[] { MmapThreshold.FreshPhase, MmapThreshold.AgainPhase })
            foreach (var p in MmapThreshold.Probe())
                Console.WriteLine(MmapThreshold.ToLine(phase, p));
        return 0;
    }
}

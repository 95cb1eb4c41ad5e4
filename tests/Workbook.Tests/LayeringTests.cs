using System.Reflection;
using System.Runtime.CompilerServices;
using Workbook.Tests.Layering;
using Xunit.Abstractions;

namespace Workbook.Tests;

/// <summary>
/// The layering of the built assemblies, read from their metadata and IL (see Layering/TypeUses.cs), not from
/// using lines: notebooks → lesson folders (Lessons.LNN_*) → Lessons.Plotting → Lessons.Heap → Lessons.Posix → libc;
/// root Lessons (WorkbookCli) uses Posix only; Exercises uses Lessons and Posix; Workbook uses everything; only
/// Lessons.Posix calls native code.
/// </summary>
public sealed class LayeringTests(ITestOutputHelper output)
{
    static readonly Lazy<List<Type>> WorkbookTypes = new(() => Layers.Assemblies().SelectMany(a => a.GetTypes()).ToList());
    static readonly Lazy<List<LayerEdge>> WorkbookEdges = new(() => Layers.Edges(WorkbookTypes.Value));

    static string Lines(IEnumerable<string> lines) => string.Join(Environment.NewLine, lines);

    [Fact]
    public void Every_use_of_another_layer_points_down()
    {
        var graph = WorkbookEdges.Value.GroupBy(e => $"{e.From} → {e.To}").OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} (from {g.Select(e => e.Use.From).Distinct().Count()} types)");
        output.WriteLine(Lines(graph));

        var violations = Layers.Violations(WorkbookEdges.Value);
        Assert.True(violations.Count == 0, $"Forbidden uses between layers:{Environment.NewLine}{Lines(violations)}");
    }

    [Fact]
    public void Every_workbook_type_belongs_to_a_layer()
    {
        var generated = WorkbookTypes.Value.Where(t => t.DeclaringType is null && Layers.Of(t) is null);
        output.WriteLine(Lines(generated.Select(t => $"not checked, compiler-generated: {t.FullName} in {t.Assembly.GetName().Name}")));

        var strays = WorkbookTypes.Value.Where(t => t.DeclaringType is null && Layers.Of(t) is ['?', ..])
            .Select(t => $"{t.FullName} in {t.Assembly.GetName().Name}").Order(StringComparer.Ordinal).ToList();
        Assert.True(strays.Count == 0, $"Types in no layer's namespace:{Environment.NewLine}{Lines(strays)}");
    }

    [Fact]
    public void The_layer_graph_has_no_cycle()
    {
        var cycles = Layers.Cycles(WorkbookEdges.Value);
        Assert.True(cycles.Count == 0, $"Cycles between layers:{Environment.NewLine}{Lines(cycles)}");
    }

    [Fact]
    public void Only_Posix_calls_native_code()
    {
        var posix = typeof(Lessons.Posix.Errno).Assembly;
        Assert.NotEmpty(Layers.NativeCalls(posix.GetTypes())); // the check sees LibraryImport stubs and NativeLibrary

        var elsewhere = Layers.NativeCalls(WorkbookTypes.Value.Where(t => t.Assembly != posix));
        Assert.True(elsewhere.Count == 0, $"Native code outside Lessons.Posix:{Environment.NewLine}{Lines(elsewhere)}");
    }

    [Fact]
    public void Posix_references_no_workbook_assembly()
    {
        var references = typeof(Lessons.Posix.Errno).Assembly.GetReferencedAssemblies().Select(a => a.Name!);
        Assert.Empty(references.Intersect(Layers.AssemblyNames));
    }

    [Fact]
    public void Posix_shows_its_internals_to_nobody_and_Lessons_not_to_Workbook()
    {
        static string[] FriendsOf(Assembly assembly) => assembly.GetCustomAttributes<InternalsVisibleToAttribute>()
            .Select(a => a.AssemblyName.Split(',')[0].Trim()).Order(StringComparer.Ordinal).ToArray();
        foreach (var assembly in Layers.Assemblies())
            output.WriteLine($"{assembly.GetName().Name}: InternalsVisibleTo [{string.Join(", ", FriendsOf(assembly))}]");

        // What the friends actually use: internal types and members of another workbook assembly.
        var internals = WorkbookEdges.Value.Select(e => e.Use)
            .Where(u => u.From.Assembly != u.To.Assembly && UsesInternals(u))
            .Select(u => u.ToString()).Distinct().Order(StringComparer.Ordinal).ToList();
        output.WriteLine(Lines(internals.Prepend("Internals used across workbook assemblies:")));

        Assert.Empty(FriendsOf(typeof(Lessons.Posix.Errno).Assembly));
        Assert.DoesNotContain("Workbook", FriendsOf(typeof(Lessons.WorkbookCli).Assembly));
    }

    /// <summary>Whether a use needs InternalsVisibleTo: an internal type, or a non-public member, of another assembly.</summary>
    static bool UsesInternals(TypeUse use) =>
        (!use.To.IsVisible && use.To.Assembly != use.From.Assembly) ||
        (use.Member?.DeclaringType?.Assembly is { } owner && owner != use.From.Assembly && use.Member switch
        {
            FieldInfo f => f.IsAssembly || f.IsFamilyAndAssembly || f.IsPrivate,
            MethodBase m => m.IsAssembly || m.IsFamilyAndAssembly || m.IsPrivate,
            _ => false,
        });

    /// <summary>The checker can fail: Layering/Fakes.cs puts a Lessons.Heap type that uses Lessons.L03_ProgramBreak
    /// and calls libc into this test assembly, read here as if it were the Lessons assembly.</summary>
    [Fact]
    public void The_checker_reports_a_forbidden_edge_a_cycle_and_a_native_call()
    {
        var tests = typeof(LayeringTests).Assembly;
        string AsLessons(Assembly a) => a == tests ? "Lessons" : a.GetName().Name!;
        var fakes = tests.GetTypes().Where(t => t.Namespace is "Lessons.Heap" or "Lessons.L03_ProgramBreak").ToList();
        Assert.Contains(fakes, t => t.Name.StartsWith('<')); // the lambda's closure class counts for Lessons.Heap

        var edges = Layers.Edges(fakes, AsLessons);
        var violations = Layers.Violations(edges);
        output.WriteLine(Lines(violations));

        const string forbidden = "[Lessons.Heap → Lessons.L03_ProgramBreak] Lessons.Heap.LayeringFakeHeap → Lessons.L03_ProgramBreak.LayeringFakeLesson";
        Assert.Contains(violations, v => v.StartsWith($"{forbidden} (in method UsesLesson, uses .ctor)"));
        Assert.Contains(violations, v => v.StartsWith($"{forbidden} (in method <>c.<UsesLessonInLambda>b__"));
        Assert.All(violations, v => Assert.StartsWith(forbidden, v)); // the lesson's use of Heap is allowed
        Assert.Equal(["Lessons.Heap → Lessons.L03_ProgramBreak → Lessons.Heap"], Layers.Cycles(edges));
        Assert.Contains(Layers.NativeCalls(fakes), c => c.Contains("LayeringFakeHeap.GetPid is a P/Invoke method"));
    }
}

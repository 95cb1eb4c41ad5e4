using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Workbook.Tests.Layering;

/// <summary>A use of a type in another layer.</summary>
sealed record LayerEdge(string From, string To, TypeUse Use);

/// <summary>
/// The workbook's layers and which may use which, arrows pointing down only:
/// notebooks → lesson folders (Lessons.LNN_*) → Lessons.Plotting → Lessons.Heap → Lessons.Posix → libc,
/// with Exercises above the Lessons assembly and the Workbook CLI above everything.
/// </summary>
static partial class Layers
{
    public const string Posix = "Lessons.Posix", Heap = "Lessons.Heap", Plotting = "Lessons.Plotting", Root = "Lessons",
        Exercises = "Exercises", Workbook = "Workbook", Grading = "Grading";

    /// <summary>The workbook's assemblies (names as built).</summary>
    public static readonly string[] AssemblyNames = ["Lessons.Posix", "Lessons", "Exercises", "Workbook", "Grading.TestLogger"];

    public static IEnumerable<Assembly> Assemblies() => AssemblyNames.Select(name => Assembly.Load(name));

    [GeneratedRegex(@"^Lessons\.L\d\d_[A-Za-z0-9]+$")]
    private static partial Regex LessonNamespace();

    public static bool IsLesson(string layer) => LessonNamespace().IsMatch(layer);

    /// <summary>
    /// The layer of a type by its assembly and namespace: null for a type outside the workbook (BCL, packages) and
    /// for compiler-generated top-level types (anonymous types, &lt;PrivateImplementationDetails&gt;, embedded
    /// attributes, generated regexes), "?assembly:namespace" for a workbook type that belongs to no layer.
    /// <paramref name="assemblyName"/> lets a test assembly stand in for a workbook assembly.
    /// </summary>
    public static string? Of(Type type, Func<Assembly, string>? assemblyName = null)
    {
        type = TypeUses.Outermost(type);
        var assembly = (assemblyName ?? (a => a.GetName().Name!))(type.Assembly);
        var ns = type.Namespace ?? "";
        var layer = assembly switch
        {
            "Lessons.Posix" when ns == Posix || ns.StartsWith(Posix + ".") => Posix,
            "Lessons" when ns == Root => Root,
            "Lessons" when ns == Heap || ns.StartsWith(Heap + ".") => Heap,
            "Lessons" when ns == Plotting || ns.StartsWith(Plotting + ".") => Plotting,
            "Lessons" when IsLesson(ns) => ns,
            "Exercises" => Exercises,
            "Workbook" => Workbook,
            "Grading.TestLogger" => Grading,
            _ => null,
        };
        if (layer is not null || !AssemblyNames.Contains(assembly)) return layer;
        return IsCompilerGenerated(type) ? null : $"?{assembly}:{ns}";
    }

    static bool IsCompilerGenerated(Type type) =>
        type.Name.StartsWith('<') || type.IsDefined(typeof(CompilerGeneratedAttribute), false) ||
        type.Namespace is "System.Runtime.CompilerServices" or "Microsoft.CodeAnalysis" or "System.Text.RegularExpressions.Generated";

    static bool InLessonsAssembly(string layer) => layer is Heap or Plotting or Root || IsLesson(layer);

    /// <summary>Whether code in layer <paramref name="from"/> may use a type in layer <paramref name="to"/>.</summary>
    public static bool Allowed(string from, string to) => from == to || from switch
    {
        Posix => false,
        Heap => to is Posix,
        Plotting => to is Heap or Posix,
        Root => to is Posix,
        _ when IsLesson(from) => to is Posix or Heap or Plotting or Root,
        Exercises => to is Posix || InLessonsAssembly(to),
        Workbook => true, // the CLI uses everything, also Exercises and Grading
        _ => false, // Grading and types that belong to no layer use nothing of the workbook
    };

    /// <summary>Every use, by a type of <paramref name="types"/>, of a workbook type in another layer.</summary>
    public static List<LayerEdge> Edges(IEnumerable<Type> types, Func<Assembly, string>? assemblyName = null) =>
        types.Select(t => (Type: t, Layer: Of(t, assemblyName)))
            .Where(t => t.Layer is not null)
            .SelectMany(t => TypeUses.Of(t.Type).Select(use => (From: t.Layer!, To: Of(use.To, assemblyName), Use: use)))
            .Where(e => e.To is not null && e.To != e.From)
            .Select(e => new LayerEdge(e.From, e.To!, e.Use))
            .Distinct()
            .ToList();

    /// <summary>The edges the rules forbid, one line each: "Lessons.Heap.X → Lessons.L03_ProgramBreak.Y (in method Z)".</summary>
    public static List<string> Violations(IEnumerable<LayerEdge> edges) =>
        edges.Where(e => !Allowed(e.From, e.To))
            .Select(e => $"[{e.From} → {e.To}] {e.Use}")
            .Distinct().Order(StringComparer.Ordinal).ToList();

    /// <summary>The cycles of the layer graph, each as "A → B → A".</summary>
    public static List<string> Cycles(IEnumerable<LayerEdge> edges)
    {
        var graph = edges.GroupBy(e => e.From).ToDictionary(g => g.Key, g => g.Select(e => e.To).Distinct().Order().ToList());
        var cycles = new List<string>();
        var done = new HashSet<string>();
        var path = new List<string>();

        void Visit(string layer)
        {
            var at = path.IndexOf(layer);
            if (at >= 0) { cycles.Add(string.Join(" → ", path[at..].Append(layer))); return; }
            if (!done.Add(layer)) return;
            path.Add(layer);
            foreach (var next in graph.GetValueOrDefault(layer, [])) Visit(next);
            path.RemoveAt(path.Count - 1);
        }
        foreach (var layer in graph.Keys.Order()) Visit(layer);
        return cycles;
    }

    /// <summary>Native code reached from <paramref name="types"/>: P/Invoke methods (DllImport, and the stubs
    /// LibraryImport generates) and uses of NativeLibrary, DllImportAttribute or LibraryImportAttribute.</summary>
    public static List<string> NativeCalls(IEnumerable<Type> types)
    {
        Type[] native = [typeof(NativeLibrary), typeof(DllImportAttribute), typeof(LibraryImportAttribute)];
        var list = types.ToList();
        var pinvokes = list.SelectMany(t => TypeUses.Methods(t)
            .Where(m => m.Attributes.HasFlag(MethodAttributes.PinvokeImpl))
            .Select(m => $"{t.FullName}.{m.Name} is a P/Invoke method"));
        var uses = list.SelectMany(TypeUses.Of).Where(u => native.Contains(u.To)).Select(u => u.ToString());
        return pinvokes.Concat(uses).Distinct().Order(StringComparer.Ordinal).ToList();
    }
}

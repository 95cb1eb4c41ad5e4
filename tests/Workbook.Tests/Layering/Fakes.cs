// Two types that break the layering on purpose, for LayeringTests.The_checker_reports_what_it_should: the test
// reads them as if this test assembly were the Lessons assembly. Their names are unique so that they never clash
// with the real Lessons.Heap and Lessons.L03_ProgramBreak types that other tests import.
using System.Runtime.InteropServices;

namespace Lessons.Heap
{
    /// <summary>A Heap type that uses a lesson folder, only inside method bodies (one of them a lambda), and calls
    /// libc itself.</summary>
    static class LayeringFakeHeap
    {
        public static int UsesLesson() => new L03_ProgramBreak.LayeringFakeLesson().Value;

        public static Func<int, int> UsesLessonInLambda() => x => L03_ProgramBreak.LayeringFakeLesson.Twice(x);

        [DllImport("libc", EntryPoint = "getpid")]
        public static extern int GetPid();
    }
}

namespace Lessons.L03_ProgramBreak
{
    /// <summary>A lesson type that uses Heap (allowed), which closes a cycle with the forbidden edge above.</summary>
    sealed class LayeringFakeLesson
    {
        public int Value { get; } = 1;

        public static int Twice(int x) => 2 * x;

        public static int UsesHeap() => Heap.LayeringFakeHeap.UsesLesson();
    }
}

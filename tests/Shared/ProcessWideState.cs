// Linked into each test project whose tests touch what belongs to the whole test host:
//   <Compile Include="..\Shared\ProcessWideState.cs" Link="Shared\ProcessWideState.cs" />

namespace TestTools;

/// <summary>
/// The tests that touch what the whole process shares — the real program break, malloc's parameters (mallopt), the
/// children of the test host, addresses the kernel may hand to another test's mapping — run in this collection:
/// one at a time, after the tests that run in parallel, with nothing else running meanwhile.
/// Use <c>[Collection(ProcessWideState.Name)]</c>.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideState
{
    public const string Name = "process-wide state";
}

using Xunit.Abstractions;
using Xunit.Sdk;

namespace Grading;

/// <summary>Turns a <see cref="GradedAttribute"/> into test traits (named in <see cref="GradedTraits"/>).</summary>
public sealed class GradedTraitDiscoverer : ITraitDiscoverer
{
    public IEnumerable<KeyValuePair<string, string>> GetTraits(IAttributeInfo traitAttribute)
    {
        var args = traitAttribute.GetConstructorArguments().ToArray();
        // Constructing the attribute validates the arguments: a bad one fails discovery loudly.
        var graded = new GradedAttribute((int)args[0], (int)args[1])
        {
            Hidden = traitAttribute.GetNamedArgument<bool>(nameof(GradedAttribute.Hidden)),
        };
        return GradedTraits.Of(graded.Lesson, graded.Points, graded.Hidden);
    }
}

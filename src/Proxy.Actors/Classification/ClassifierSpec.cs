using System.Text.RegularExpressions;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>One configured rule: its name, its type name and the Props each node starts it from.</summary>
public sealed record ClassifierSpec(string Name, string Type, Props Props)
{
    public const string DefaultRuleName = "xmlrpc-overload";
    public const string DefaultPattern = "faultCode.+value.+i4.+1007.+i4";

    /// <summary>The chain used when none is configured: the XML-RPC <c>faultCode 1007</c> rule.</summary>
    public static IReadOnlyList<ClassifierSpec> DefaultChain { get; } =
    [
        new(DefaultRuleName, BodyRegexClassifier.TypeName,
            BodyRegexClassifier.Props(DefaultRuleName, Verdict.Overloaded, BodyRegexClassifier.Compile(DefaultPattern))),
    ];

    /// <summary>The regex options every pattern rule uses: Singleline like the founding Lua pattern, compiled once.</summary>
    internal const RegexOptions PatternOptions = RegexOptions.Singleline | RegexOptions.CultureInvariant | RegexOptions.Compiled;
}

using System.Text.RegularExpressions;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>One configured rule: its name, its type name and the Props each node starts it from.</summary>
public sealed record ClassifierSpec(string Name, string Type, Props Props)
{
    public const string DefaultRuleName = "xmlrpc-overload";

    /// <summary>The overload fault code of the default rule.</summary>
    public const int DefaultFaultCode = 1007;

    /// <summary>The founding HAProxy/Lua pattern, for a <c>BodyRegex</c> rule that wants it byte for byte.</summary>
    public const string FoundingPattern = "faultCode.+value.+i4.+1007.+i4";

    /// <summary>The chain used when none is configured: the XML-RPC <c>faultCode 1007</c> rule.</summary>
    public static IReadOnlyList<ClassifierSpec> DefaultChain { get; } =
    [
        new(DefaultRuleName, XmlRpcFaultClassifier.TypeName, XmlRpcFaultClassifier.Props(DefaultRuleName, Verdict.Overloaded, [DefaultFaultCode]))
        {
            NeedsWholeAnswer = XmlRpcFaultClassifier.StartsAsFault,
        },
    ];

    /// <summary>
    /// The rule's test of an answer larger than the response buffer: true when the rule can only
    /// judge it whole (an XML-RPC fault with a long faultString), so the node reads on up to the
    /// fault buffer. Runs off the actor, concurrently: it must be a pure function of the answer.
    /// </summary>
    public Func<IAnswerView, bool>? NeedsWholeAnswer { get; init; }

    /// <summary>The regex options every pattern rule uses: Singleline like the founding Lua pattern.</summary>
    internal const RegexOptions PatternOptions = RegexOptions.Singleline | RegexOptions.CultureInvariant;
}

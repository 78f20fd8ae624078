using System.Text.RegularExpressions;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>One configured rule: its name and the Props each node starts it from.</summary>
public sealed record ClassifierSpec(string Name, Props Props)
{
    public const string DefaultRuleName = "xmlrpc-overload";

    /// <summary>The overload fault code of the default rule.</summary>
    public const int DefaultFaultCode = 1007;

    /// <summary>The founding HAProxy/Lua pattern, for a <c>BodyRegex</c> rule that wants it byte for byte.</summary>
    public const string FoundingPattern = "faultCode.+value.+i4.+1007.+i4";

    /// <summary>The chain used when none is configured: the XML-RPC <c>faultCode 1007</c> rule.</summary>
    public static IReadOnlyList<ClassifierSpec> DefaultChain { get; } =
    [
        new(DefaultRuleName, XmlRpcFaultClassifier.Props(DefaultRuleName, Verdict.Overloaded, [DefaultFaultCode]))
        {
            NeedsWholeAnswer = XmlRpcFaultClassifier.StartsAsFault,
            Screen = XmlRpcFaultClassifier.CouldMatch,
        },
    ];

    /// <summary>
    /// The rule's cheap test, run by the node before the rule's actor is asked: false when the rule
    /// cannot match this answer, which then never reaches it (a success answer passes no XML-RPC
    /// fault rule, so it is delivered without a message to any classifier). True when unsure. Runs
    /// off the actor, concurrently: it must be a pure function of the answer. None: every answer.
    /// </summary>
    public Func<IAnswerView, bool>? Screen { get; init; }

    /// <summary>
    /// The rule's test of an answer larger than the response buffer: true when the rule can only
    /// judge it whole (an XML-RPC fault with a long faultString), so the node reads on up to the
    /// fault buffer. Runs off the actor, concurrently: it must be a pure function of the answer.
    /// </summary>
    public Func<IAnswerView, bool>? NeedsWholeAnswer { get; init; }

    /// <summary>The regex options every pattern rule uses: Singleline like the founding Lua pattern.</summary>
    internal const RegexOptions PatternOptions = RegexOptions.Singleline | RegexOptions.CultureInvariant;
}

using System.Text.RegularExpressions;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>
/// <c>BodyRegex</c>: a .NET regex over the buffered body. Singleline (so <c>.</c> crosses newlines,
/// like the founding Lua pattern), culture invariant, compiled once for all nodes, bounded by a
/// match timeout so a catastrophic pattern cannot stall traffic.
/// </summary>
public sealed class BodyRegexClassifier(string name, Verdict verdict, Regex pattern) : ClassifierActor(name, verdict)
{
    public const string TypeName = "BodyRegex";

    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Compiles a pattern with the rule options; throws <see cref="ArgumentException"/> when it does not compile.</summary>
    public static Regex Compile(string pattern, TimeSpan? matchTimeout = null) =>
        new(pattern, ClassifierSpec.PatternOptions, matchTimeout ?? MatchTimeout);

    public static Props Props(string name, Verdict verdict, Regex pattern) =>
        Akka.Actor.Props.Create(() => new BodyRegexClassifier(name, verdict, pattern));

    protected override bool Matches(IAnswerView answer) =>
        !answer.Buffered.IsEmpty && pattern.IsMatch(BodyText(answer));

    protected override string Describe() => $"Pattern={pattern}";
}

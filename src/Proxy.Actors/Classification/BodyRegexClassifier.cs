using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary>
/// <c>BodyRegex</c>: a .NET regex over the buffered body (decoded from its Content-Encoding, as
/// UTF-8). Singleline (so <c>.</c> crosses newlines, like the founding Lua pattern), culture
/// invariant, built once for all nodes on the linear-time engine where the pattern allows, else
/// bounded by a match timeout so a catastrophic pattern cannot stall traffic.
/// </summary>
/// <remarks>
/// When every match must start with a plain ASCII literal (the default rule's <c>faultCode</c>),
/// the raw bytes are searched for it first: most answers do not contain it, and those are then
/// never decoded to text nor run through the regex.
/// </remarks>
public sealed class BodyRegexClassifier : ClassifierActor
{
    public const string TypeName = "BodyRegex";

    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    private const int ShortestUsefulLiteral = 3;

    private readonly Regex _pattern;
    private readonly byte[]? _requiredStart;

    public BodyRegexClassifier(string name, Verdict verdict, Regex pattern)
        : base(name, verdict)
    {
        _pattern = pattern;
        _requiredStart = RequiredLeadingLiteral(pattern) is { } literal ? Encoding.ASCII.GetBytes(literal) : null;
    }

    /// <summary>
    /// Compiles a pattern with the rule options for the linear-time engine
    /// (<see cref="RegexOptions.NonBacktracking"/>, as Envoy's RE2): no answer can make it slow. A
    /// pattern that engine cannot run (backreferences, lookarounds, atomic groups, very large
    /// repetition counts) gets the backtracking engine, bounded by the match timeout; <see cref="Backtracks"/> tells which.
    /// Throws <see cref="ArgumentException"/> when the pattern does not compile.
    /// </summary>
    public static Regex Compile(string pattern, TimeSpan? matchTimeout = null) => Compile(pattern, out _, matchTimeout);

    /// <summary>As <see cref="Compile(string, TimeSpan?)"/>; <paramref name="whyBacktracking"/> is the linear-time engine's reason for refusing the pattern, if it did.</summary>
    public static Regex Compile(string pattern, out string? whyBacktracking, TimeSpan? matchTimeout = null)
    {
        try
        {
            whyBacktracking = null;
            return new Regex(pattern, ClassifierSpec.PatternOptions | RegexOptions.NonBacktracking, matchTimeout ?? MatchTimeout);
        }
        catch (NotSupportedException ex)
        {
            whyBacktracking = ex.Message;
            return new Regex(pattern, ClassifierSpec.PatternOptions | RegexOptions.Compiled, matchTimeout ?? MatchTimeout);
        }
    }

    /// <summary>True when <paramref name="regex"/> runs on the backtracking engine: a crafted answer can drive it to its match timeout.</summary>
    public static bool Backtracks(Regex regex) => (regex.Options & RegexOptions.NonBacktracking) == 0;

    /// <summary>
    /// The rule's screen (<see cref="ClassifierSpec.Screen"/>): an answer with a body, holding the
    /// literal every match starts with when the pattern has one.
    /// </summary>
    public static Func<IAnswerView, bool> Screen(Regex pattern)
    {
        var literal = RequiredLeadingLiteral(pattern) is { } text ? Encoding.ASCII.GetBytes(text) : null;
        return answer => !answer.Content.IsEmpty && (literal is null || answer.Content.Span.IndexOf(literal) >= 0);
    }

    public static Props Props(string name, Verdict verdict, Regex pattern) =>
        Akka.Actor.Props.Create(() => new BodyRegexClassifier(name, verdict, pattern));

    /// <summary>
    /// The ASCII literal every match of <paramref name="regex"/> starts with, or null when there is
    /// none worth searching for. Conservative: any alternation, case folding or whitespace mode, or a
    /// quantifier on the literal's last character, and the rule simply runs the regex every time.
    /// </summary>
    public static string? RequiredLeadingLiteral(Regex regex)
    {
        if ((regex.Options & (RegexOptions.IgnoreCase | RegexOptions.IgnorePatternWhitespace | RegexOptions.RightToLeft)) != 0)
        {
            return null;
        }

        var pattern = regex.ToString();
        if (pattern.Contains('|', StringComparison.Ordinal))
        {
            return null;
        }

        var length = 0;
        while (length < pattern.Length && IsPlainLiteral(pattern[length]))
        {
            length++;
        }

        // "abc?" or "abc*" or "abc{0,2}": the last character may be absent.
        if (length < pattern.Length && pattern[length] is '?' or '*' or '{')
        {
            length--;
        }

        return length >= ShortestUsefulLiteral ? pattern[..length] : null;
    }

    protected override bool Matches(IAnswerView answer)
    {
        var body = answer.Content.Span;
        if (body.IsEmpty || (_requiredStart is not null && body.IndexOf(_requiredStart) < 0))
        {
            return false;
        }

        return _pattern.IsMatch(BodyText(answer));
    }

    protected override bool CanBeDrivenSlow => Backtracks(_pattern);

    protected override string Describe() => $"Pattern={_pattern} engine={(Backtracks(_pattern) ? "backtracking" : "linear")}";

    // Characters that stand for themselves in a .NET pattern outside a character class.
    private static bool IsPlainLiteral(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is ' ' or '<' or '>' or '/' or '=' or '"' or '\'' or ':' or ';' or ',' or '-' or '_' or '@' or '!' or '%' or '&' or '~';
}

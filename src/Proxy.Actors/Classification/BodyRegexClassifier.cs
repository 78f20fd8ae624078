using System.Text.RegularExpressions;

namespace Proxy.Actors.Classification;

/// <summary>
/// Matches a .NET regex over the buffered body. Singleline (so <c>.</c> crosses newlines, like the
/// founding Lua pattern), culture invariant, compiled once, and bounded by a match timeout so a
/// catastrophic pattern cannot stall traffic: a timed-out match counts as no match.
/// </summary>
public sealed class BodyRegexClassifier : ResponseClassifier
{
    public static readonly TimeSpan DefaultMatchTimeout = TimeSpan.FromMilliseconds(100);

    private readonly Regex _regex;
    private long _timeouts;

    public BodyRegexClassifier(string name, string pattern, Verdict verdict, TimeSpan? matchTimeout = null)
        : base(name, verdict)
    {
        _regex = new Regex(
            pattern,
            RegexOptions.Singleline | RegexOptions.CultureInvariant | RegexOptions.Compiled,
            matchTimeout ?? DefaultMatchTimeout);
    }

    public string Pattern => _regex.ToString();

    public override bool ReadsBody => true;

    /// <summary>How many matches ran out of time (and so delivered the answer).</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    public override bool Matches(in AnswerView answer)
    {
        try
        {
            return _regex.IsMatch(answer.BodyText);
        }
        catch (RegexMatchTimeoutException)
        {
            Interlocked.Increment(ref _timeouts);
            return false;
        }
    }
}

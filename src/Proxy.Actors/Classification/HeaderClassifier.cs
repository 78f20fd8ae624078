using System.Text.RegularExpressions;

namespace Proxy.Actors.Classification;

/// <summary>Matches answers carrying a header (response or content header) whose value matches a regex.</summary>
public sealed class HeaderClassifier : ResponseClassifier
{
    private readonly Regex _regex;

    public HeaderClassifier(string name, string header, string pattern, Verdict verdict, TimeSpan? matchTimeout = null)
        : base(name, verdict)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(header);
        Header = header;
        _regex = new Regex(
            pattern,
            RegexOptions.CultureInvariant | RegexOptions.Compiled,
            matchTimeout ?? BodyRegexClassifier.DefaultMatchTimeout);
    }

    public string Header { get; }

    public override bool Matches(in AnswerView answer)
    {
        if (answer.Headers.TryGetValues(Header, out var values) || (answer.ContentHeaders?.TryGetValues(Header, out values) ?? false))
        {
            foreach (var value in values)
            {
                try
                {
                    if (_regex.IsMatch(value))
                    {
                        return true;
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    return false;
                }
            }
        }

        return false;
    }
}

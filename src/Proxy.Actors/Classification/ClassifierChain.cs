using System.Buffers;
using System.Net.Http.Headers;
using System.Text;

namespace Proxy.Actors.Classification;

/// <summary>The ordered rules of <c>Proxy:Classifiers</c>: the first rule that matches decides.</summary>
public sealed class ClassifierChain
{
    public const string DefaultRuleName = "xmlrpc-overload";
    public const string DefaultPattern = "faultCode.+value.+i4.+1007.+i4";

    private readonly ResponseClassifier[] _rules;
    private readonly bool _readsBody;

    public ClassifierChain(IEnumerable<ResponseClassifier> rules)
    {
        _rules = rules.ToArray();
        _readsBody = _rules.Any(r => r.ReadsBody);
    }

    /// <summary>The chain used when none is configured: the XML-RPC <c>faultCode 1007</c> rule.</summary>
    public static ClassifierChain Default { get; } =
        new([new BodyRegexClassifier(DefaultRuleName, DefaultPattern, Verdict.Overloaded)]);

    public IReadOnlyList<ResponseClassifier> Rules => _rules;

    /// <summary>Classifies one answer; returns the deciding rule's verdict and name, or Deliver.</summary>
    public (Verdict Verdict, string? Rule) Classify(int status, HttpResponseHeaders headers, HttpContentHeaders? contentHeaders, ReadOnlySpan<byte> body)
    {
        if (_rules.Length == 0)
        {
            return (Verdict.Deliver, null);
        }

        char[]? rented = null;
        try
        {
            var text = ReadOnlySpan<char>.Empty;
            if (_readsBody && !body.IsEmpty)
            {
                rented = ArrayPool<char>.Shared.Rent(Encoding.UTF8.GetMaxCharCount(body.Length));
                var count = Encoding.UTF8.GetChars(body, rented);
                text = rented.AsSpan(0, count);
            }

            var view = new AnswerView(status, headers, contentHeaders, body, text);
            foreach (var rule in _rules)
            {
                if (rule.Matches(view))
                {
                    return (rule.Verdict, rule.Name);
                }
            }

            return (Verdict.Deliver, null);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }
}

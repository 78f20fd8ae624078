using System.Net.Http.Headers;

namespace Proxy.Actors.Classification;

/// <summary>
/// One rule of the classifier chain. Rules are immutable and thread-safe: a node runs its chain on
/// every answer from its own forwarding tasks, so no single actor sees all traffic.
/// </summary>
public abstract class ResponseClassifier
{
    protected ResponseClassifier(string name, Verdict verdict)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (verdict == Verdict.Deliver)
        {
            throw new ArgumentException("A rule's verdict must be Overloaded or Failed.", nameof(verdict));
        }

        Name = name;
        Verdict = verdict;
    }

    public string Name { get; }

    public Verdict Verdict { get; }

    /// <summary>True when the rule reads the body, so the chain decodes it once for all such rules.</summary>
    public virtual bool ReadsBody => false;

    /// <summary>True when the answer matches this rule.</summary>
    public abstract bool Matches(in AnswerView answer);
}

/// <summary>What a classifier sees of an answer: status, headers and the buffered part of the body.</summary>
public readonly ref struct AnswerView
{
    public AnswerView(int status, HttpResponseHeaders headers, HttpContentHeaders? contentHeaders, ReadOnlySpan<byte> body, ReadOnlySpan<char> bodyText)
    {
        Status = status;
        Headers = headers;
        ContentHeaders = contentHeaders;
        Body = body;
        BodyText = bodyText;
    }

    public int Status { get; }

    public HttpResponseHeaders Headers { get; }

    public HttpContentHeaders? ContentHeaders { get; }

    /// <summary>The buffered bytes of the body (all of it unless the answer exceeded the buffer limit).</summary>
    public ReadOnlySpan<byte> Body { get; }

    /// <summary>The buffered body decoded as UTF-8; empty unless a rule of the chain reads the body.</summary>
    public ReadOnlySpan<char> BodyText { get; }
}

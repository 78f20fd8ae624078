using System.Net.Http.Headers;

namespace Proxy.Actors.Classification;

/// <summary>What a classifier sees of a node's answer: status, headers and the buffered body.</summary>
public interface IAnswerView
{
    int Status { get; }

    HttpResponseHeaders Headers { get; }

    HttpContentHeaders ContentHeaders { get; }

    /// <summary>The buffered start of the body (all of it when <see cref="Complete"/>).</summary>
    ReadOnlyMemory<byte> Buffered { get; }

    /// <summary>True when <see cref="Buffered"/> is the whole body.</summary>
    bool Complete { get; }
}

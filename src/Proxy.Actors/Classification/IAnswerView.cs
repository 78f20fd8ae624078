using System.Net.Http.Headers;

namespace Proxy.Actors.Classification;

/// <summary>What a classifier sees of a node's answer: status, headers and the buffered body.</summary>
public interface IAnswerView
{
    /// <summary>The node's HTTP status code.</summary>
    int Status { get; }

    /// <summary>The node's response headers.</summary>
    HttpResponseHeaders Headers { get; }

    /// <summary>The node's content headers (Content-Type, Content-Encoding, Content-Length).</summary>
    HttpContentHeaders ContentHeaders { get; }

    /// <summary>The buffered start of the body as the node sent it (all of it when <see cref="Complete"/>): what the client receives.</summary>
    ReadOnlyMemory<byte> Buffered { get; }

    /// <summary>True when <see cref="Buffered"/> is the whole body.</summary>
    bool Complete { get; }

    /// <summary>
    /// The body as body rules judge it: <see cref="Buffered"/> decoded from its <c>Content-Encoding</c>
    /// (gzip, deflate, br), up to a cap, so a compressed answer is judged on its content. The same bytes
    /// as <see cref="Buffered"/> when the answer is not encoded; empty when its coding is one the proxy
    /// cannot decode.
    /// </summary>
    ReadOnlyMemory<byte> Content => Buffered;

    /// <summary>True when <see cref="Content"/> is the whole decoded body.</summary>
    bool ContentComplete => Complete;
}

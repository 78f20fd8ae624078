using System.Buffers;
using System.Net.Http.Headers;
using Proxy.Actors.Classification;

namespace Proxy.Actors.Forwarding;

/// <summary>
/// A node's answer judged deliverable: its head, the buffered start of its body and, when the body
/// was larger than the buffer, the stream of the rest. Owned by whoever delivers it, who disposes it.
/// </summary>
public sealed class UpstreamAnswer : IAnswerView, IDisposable
{
    private byte[]? _rented;

    internal UpstreamAnswer(HttpResponseMessage response, byte[]? rented, int length, bool complete, Stream? rest)
    {
        Response = response;
        _rented = rented;
        Buffered = rented is null ? ReadOnlyMemory<byte>.Empty : rented.AsMemory(0, length);
        Complete = complete;
        Rest = complete ? null : rest;
    }

    public HttpResponseMessage Response { get; }

    public int Status => (int)Response.StatusCode;

    public HttpResponseHeaders Headers => Response.Headers;

    public HttpContentHeaders ContentHeaders => Response.Content.Headers;

    /// <summary>The body bytes read while classifying.</summary>
    public ReadOnlyMemory<byte> Buffered { get; private set; }

    /// <summary>True when <see cref="Buffered"/> is the whole body.</summary>
    public bool Complete { get; }

    /// <summary>The rest of the body, streamed after <see cref="Buffered"/>; null when complete.</summary>
    public Stream? Rest { get; }

    public void Dispose()
    {
        var rented = Interlocked.Exchange(ref _rented, null);
        if (rented is not null)
        {
            Buffered = ReadOnlyMemory<byte>.Empty;
            ArrayPool<byte>.Shared.Return(rented);
        }

        Rest?.Dispose();
        Response.Dispose();
    }
}

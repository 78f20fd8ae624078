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
    private byte[]? _decoded;

    internal UpstreamAnswer(HttpResponseMessage response, byte[]? rented, int length, bool complete, Stream? rest)
    {
        Response = response;
        _rented = rented;
        Buffered = rented is null ? ReadOnlyMemory<byte>.Empty : rented.AsMemory(0, length);
        Complete = complete;
        Rest = complete ? null : rest;
        Content = Buffered;
        ContentComplete = complete;
    }

    public HttpResponseMessage Response { get; }

    public int Status => (int)Response.StatusCode;

    public HttpResponseHeaders Headers => Response.Headers;

    public HttpContentHeaders ContentHeaders => Response.Content.Headers;

    /// <summary>The body bytes read while classifying, as the node sent them.</summary>
    public ReadOnlyMemory<byte> Buffered { get; private set; }

    /// <summary>True when <see cref="Buffered"/> is the whole body.</summary>
    public bool Complete { get; private set; }

    /// <summary>The rest of the body, streamed after <see cref="Buffered"/>; null when complete.</summary>
    public Stream? Rest { get; private set; }

    /// <inheritdoc />
    public ReadOnlyMemory<byte> Content { get; private set; }

    /// <inheritdoc />
    public bool ContentComplete { get; private set; }

    public void Dispose()
    {
        var rented = Interlocked.Exchange(ref _rented, null);
        if (rented is not null)
        {
            Buffered = ReadOnlyMemory<byte>.Empty;
            ArrayPool<byte>.Shared.Return(rented);
        }

        ReleaseDecoded();
        Rest?.Dispose();
        Response.Dispose();
    }

    /// <summary>Decodes the buffered body (a <c>Content-Encoding</c>) for judging, up to <paramref name="limit"/> decoded bytes.</summary>
    internal void DecodeContent(ContentDecoding.Coding coding, int limit)
    {
        ReleaseDecoded();
        if (coding == ContentDecoding.Coding.Identity)
        {
            Content = Buffered;
            ContentComplete = Complete;
            return;
        }

        _decoded = ContentDecoding.Decode(coding, Buffered, Complete, limit, out var length, out var complete);
        Content = _decoded is null ? ReadOnlyMemory<byte>.Empty : _decoded.AsMemory(0, length);
        ContentComplete = complete;
    }

    /// <summary>
    /// Buffers more of the body, up to <paramref name="limit"/> bytes in all: an answer that is
    /// recognisably a fault is judged whole. The rest, if any, still streams afterwards.
    /// </summary>
    internal async ValueTask ReadOnAsync(int limit, long? declaredLength, CancellationToken cancellationToken)
    {
        if (Complete || Rest is null || Buffered.Length >= limit)
        {
            return;
        }

        var read = Buffered.Length;
        var size = declaredLength is { } declared && declared <= limit ? (int)declared : limit;
        var larger = ArrayPool<byte>.Shared.Rent(size);
        Buffered.Span.CopyTo(larger);
        var old = _rented;
        _rented = larger;
        if (old is not null)
        {
            ArrayPool<byte>.Shared.Return(old);
        }

        var ended = false;
        while (read < size)
        {
            var n = await Rest.ReadAsync(larger.AsMemory(read, size - read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                ended = true;
                break;
            }

            read += n;
        }

        Buffered = larger.AsMemory(0, read);
        if (ended || declaredLength == read)
        {
            // The response owns the stream and disposes it with the answer.
            Complete = true;
            Rest = null;
        }

        Content = Buffered;
        ContentComplete = Complete;
    }

    private void ReleaseDecoded()
    {
        var decoded = Interlocked.Exchange(ref _decoded, null);
        if (decoded is not null)
        {
            Content = ReadOnlyMemory<byte>.Empty;
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }
}

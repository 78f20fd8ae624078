using System.Net;

namespace Proxy.Actors.Forwarding;

/// <summary>
/// A client's body too large to buffer, sent to the node as it arrives. The request head goes out
/// first, at once: the connection's write buffer would otherwise hold it until about 4 KiB of body
/// had come, and a slow client's try would look like a connection nobody uses (the node waits on
/// it; <see cref="SingleTryConnection"/> closes it).
/// </summary>
internal sealed class StreamedBodyContent(Stream body) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    // The length is set from the client's Content-Length, or the body goes chunked.
    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}

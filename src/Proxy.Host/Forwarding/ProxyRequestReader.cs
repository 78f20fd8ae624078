using Microsoft.AspNetCore.Http.Features;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Requests;

namespace Proxy.Host.Forwarding;

/// <summary>Turns an incoming client request into the <see cref="ProxyRequest"/> the actors forward.</summary>
internal sealed class ProxyRequestReader(int requestBufferLimit, IReadOnlyList<System.Net.IPNetwork> trustedProxies)
{
    // An array, walked by index: a foreach over the interface allocated an enumerator per request.
    private readonly System.Net.IPNetwork[] _trustedProxies = [.. trustedProxies];
    private long _nextId;

    /// <param name="rawTarget">The request target as received (the handler has already read it from the request feature).</param>
    /// <param name="trace">The request's trace (ADR 0019): while it is active, the client's trace headers are not copied, each try sends its own.</param>
    public async ValueTask<ProxyRequest> ReadAsync(HttpContext context, string? rawTarget, Proxy.Actors.Telemetry.RequestTrace trace = default)
    {
        var request = context.Request;
        var headers = ForwardedHeaders(context, IsTrusted(context.Connection.RemoteIpAddress), trace.IsActive);
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        var target = OriginForm(rawTarget);
        return new ProxyRequest(Interlocked.Increment(ref _nextId), request.Method, target, headers, body, context.RequestAborted) { Trace = trace };
    }

    /// <summary>
    /// The request target to send on, byte for byte as the client sent it: decoding and re-encoding
    /// the path would let "/a%252Fb" reach the node as "/a%2Fb", "/a%3Fb" as a query, and dot
    /// segments resolve past a node's path-based access rules. An absolute-form target
    /// ("http://host/path?q") becomes its origin form (RFC 9112 section 3.2.2); the asterisk form
    /// and an empty target become "/".
    /// </summary>
    internal static string OriginForm(string? rawTarget)
        => OriginFormOf(rawTarget);

    /// <summary>
    /// True when the target has a byte no request target may carry (RFC 9112 section 3.2: visible
    /// ASCII only). Kestrel lets control characters through, and a bare CR or an escape sequence
    /// sent on to a node or written to the log is request-line and log injection.
    /// </summary>
    internal static bool HasInvalidTargetByte(string? rawTarget) =>
        rawTarget is not null && rawTarget.AsSpan().IndexOfAnyExceptInRange('\x21', '\x7e') >= 0;

    private static string OriginFormOf(string? rawTarget)
    {
        if (string.IsNullOrEmpty(rawTarget) || rawTarget == "*")
        {
            return "/";
        }

        if (rawTarget[0] == '/')
        {
            return rawTarget;
        }

        // Absolute form: scheme "://" authority, then the path (and query) as sent.
        var authority = rawTarget.IndexOf("://", StringComparison.Ordinal);
        if (authority < 0)
        {
            return "/";
        }

        var rest = rawTarget.AsSpan(authority + 3);
        var end = rest.IndexOfAny('/', '?');
        return end < 0 ? "/" : rest[end] == '?' ? string.Concat("/", rest[end..]) : rest[end..].ToString();
    }

    private bool IsTrusted(System.Net.IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        for (var i = 0; i < _trustedProxies.Length; i++)
        {
            if (_trustedProxies[i].Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The Host the client sent (or the absolute-form target's authority Kestrel put there), as
    /// sent. <c>HttpRequest.Host</c> decodes punycode: <c>xn--bcher-kva</c> would reach the node as
    /// UTF-8, and a label that is not valid punycode (<c>xn--x</c>) throws, a 500.
    /// </summary>
    public static HostString HostAsSent(HttpRequest request) => new(request.Headers.Host.ToString());

    // From a trusted proxy, X-Forwarded-* are kept (For appended to); from anyone else they are
    // replaced, so a client cannot pose as someone else to the node.
    private static List<KeyValuePair<string, string>> ForwardedHeaders(HttpContext context, bool trusted, bool traced)
    {
        var request = context.Request;
        var source = request.Headers;
        var connectionTokens = HopByHopHeaders.NamedByConnection(source.Connection.ToString());
        var headers = new List<KeyValuePair<string, string>>(source.Count + 3);
        string? priorForwardedFor = null;
        string? priorProto = null;
        string? priorHost = null;
        foreach (var (name, values) in source)
        {
            if (IsNotForwarded(name) || HopByHopHeaders.IsHopByHop(name, connectionTokens))
            {
                continue;
            }

            if (traced && (name.Equals("traceparent", StringComparison.OrdinalIgnoreCase) || name.Equals("tracestate", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            if (name.Equals("X-Forwarded-For", StringComparison.OrdinalIgnoreCase))
            {
                priorForwardedFor = trusted ? values.ToString() : null;
                continue;
            }

            if (name.Equals("X-Forwarded-Proto", StringComparison.OrdinalIgnoreCase))
            {
                priorProto = trusted ? values.ToString() : null;
                continue;
            }

            if (name.Equals("X-Forwarded-Host", StringComparison.OrdinalIgnoreCase))
            {
                priorHost = trusted ? values.ToString() : null;
                continue;
            }

            // The same claims in other spellings (RFC 7239's Forwarded, nginx's X-Real-IP, the rest of
            // X-Forwarded-*, e.g. Port and Prefix): only a trusted proxy may make them, so a client
            // cannot pose as another address, port or path base to the node.
            if (!trusted && (name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Forwarded", StringComparison.OrdinalIgnoreCase)
                || name.Equals("X-Real-IP", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            foreach (var value in values)
            {
                if (value is not null)
                {
                    headers.Add(new(name, value));
                }
            }
        }

        // X-Forwarded-For is appended to, so the chain of proxies stays visible to the node.
        var client = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        headers.Add(new("X-Forwarded-For", string.IsNullOrEmpty(priorForwardedFor) ? client : string.Concat(priorForwardedFor, ", ", client)));
        headers.Add(new("X-Forwarded-Proto", priorProto ?? request.Scheme));
        var sentHost = HostAsSent(request);
        var host = priorHost ?? (sentHost.HasValue ? sentHost.Value : null);
        if (host is not null)
        {
            headers.Add(new("X-Forwarded-Host", host));
        }

        return headers;
    }

    // Host comes from the node's address; lengths are set by the forwarder; the rest we set ourselves.
    private static bool IsNotForwarded(string name) =>
        name.Equals("Host", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Expect", StringComparison.OrdinalIgnoreCase);

    private async ValueTask<RequestBody> ReadBodyAsync(HttpContext context)
    {
        var request = context.Request;
        var canHaveBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? request.ContentLength > 0;
        if (!canHaveBody || request.ContentLength == 0)
        {
            return request.ContentLength == 0 ? new BufferedBody(ReadOnlyMemory<byte>.Empty) : RequestBody.None;
        }

        var declared = request.ContentLength;
        if (declared > requestBufferLimit)
        {
            return new StreamedBody(request.Body, declared);
        }

        // Known small length: read it whole. Unknown (chunked): read up to the limit and stream the rest.
        var capacity = declared is { } length ? (int)length : Math.Min(requestBufferLimit, 16 * 1024);
        var buffer = new byte[capacity];
        var read = 0;
        while (true)
        {
            if (read == buffer.Length)
            {
                if (declared is not null || buffer.Length >= requestBufferLimit)
                {
                    break;
                }

                Array.Resize(ref buffer, Math.Min(requestBufferLimit, buffer.Length * 2));
            }

            var n = await request.Body.ReadAsync(buffer.AsMemory(read), context.RequestAborted).ConfigureAwait(false);
            if (n == 0)
            {
                return new BufferedBody(buffer.AsMemory(0, read));
            }

            read += n;
        }

        if (declared is not null)
        {
            return new BufferedBody(buffer.AsMemory(0, read));
        }

        // Over the buffer limit with no declared length: send what was read, then the rest, once.
        return new StreamedBody(new PrefixedStream(buffer.AsMemory(0, read), request.Body), null);
    }

    /// <summary>A read-only stream of a buffered prefix followed by the rest of another stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_prefix.IsEmpty)
            {
                return rest.Read(buffer, offset, count);
            }

            var n = Math.Min(count, _prefix.Length);
            _prefix[..n].Span.CopyTo(buffer.AsSpan(offset, n));
            _prefix = _prefix[n..];
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.IsEmpty)
            {
                return rest.ReadAsync(buffer, cancellationToken);
            }

            var n = Math.Min(buffer.Length, _prefix.Length);
            _prefix[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return ValueTask.FromResult(n);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

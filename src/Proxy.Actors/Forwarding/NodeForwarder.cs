using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Proxy.Actors.Classification;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Tls;

namespace Proxy.Actors.Forwarding;

/// <summary>
/// Sends one try to one node over a pooled connection and buffers the start of the answer for the
/// node's classifiers. Thread-safe and
/// owned outside the NodeActor, so a restarted NodeActor keeps its connections and in-flight calls.
/// </summary>
public sealed class NodeForwarder : IDisposable
{
    private readonly NodeSettings _node;
    private readonly ForwardingSettings _settings;

    // Null for an http:// or unix: node.
    private readonly NodeTlsClient? _tls;

    // Per-try deadline sources, reused (as YARP reuses its activity timeouts): a linked source with
    // its own timer per try was a measurable share of the allocations per request. The queue holds
    // at most as many as there were tries at once.
    private readonly ConcurrentQueue<CancellationTokenSource> _idleDeadlines = new();

    // The last target and its Uri. An XML-RPC service is called on one path, and building and
    // parsing a Uri per try was a twentieth of the bytes allocated per request. A Uri is immutable,
    // so concurrent tries share it.
    private Target? _lastTarget;

    // A node that answers HTTP/1.0 without keep-alive (Python's xmlrpc.server and http.server) closes
    // each connection after its answer, but SocketsHttpHandler pools the connection all the same
    // (even when the request says Connection: close), and the next try sent on it races the close:
    // "the response ended prematurely", a 502 for the client (37 % of calls at six at once, measured).
    // Once the node has answered so, its tries go through a handler that never reuses a connection;
    // a node that answers with keep-alive again goes back to the pooled one. Until its first answer
    // a node is taken to close: the first burst of calls to a fresh proxy would otherwise queue on
    // the pooled handler and be sent on connections the node closes (a 502 for 22 of 2,000 calls,
    // and an opened circuit, with 64 Python clients at once), so only a keep-alive answer pools.
    private readonly HttpMessageInvoker _pooled;
    private HttpMessageInvoker? _unpooled;
    private volatile HttpMessageInvoker _invoker;

    // Set once the node framed an answer so that no connection of it can be trusted again (see
    // SendAsync); its tries stay on connections of their own for the life of this forwarder.
    private volatile bool _framingBroken;

    // The chain's tests for an answer it can only judge whole (ClassifierSpec.NeedsWholeAnswer).
    private volatile Func<IAnswerView, bool>[] _needsWholeAnswer;

    public NodeForwarder(NodeSettings node, ForwardingSettings settings, IEnumerable<Func<IAnswerView, bool>>? needsWholeAnswer = null, Akka.Event.ILoggingAdapter? log = null)
    {
        _node = node;
        _settings = settings;
        _needsWholeAnswer = needsWholeAnswer?.ToArray() ?? [];
        _tls = node.Address.IsHttps ? new NodeTlsClient(node.Address, node.Tls, node.Name, log, settings.ConnectTimeout) : null;
        _pooled = new HttpMessageInvoker(CreateHandler(node.Address, settings, _tls, pooled: true), disposeHandler: true);
        _invoker = UnpooledInvoker();
    }

    /// <summary>
    /// What makes an answer's head one no client may be given, or null. Each is the node's mistake
    /// (a 502 counted against it), caught before anything is delivered: a body that cannot be
    /// framed one way only, or a header Kestrel would refuse to write halfway through the answer.
    /// </summary>
    internal static string? AnswerFramingFault(HttpResponseMessage response)
    {
        var content = response.Content.Headers.NonValidated;
        var lengths = content.TryGetValues("Content-Length", out var declared) ? declared.Count : 0;
        var status = (int)response.StatusCode;

        // RFC 9110 sections 15.3.5 and 15.3.6: a 204 or 205 has no content.
        if (status is 204 or 205 && (response.Content.Headers.ContentLength is > 0 || response.Headers.TransferEncodingChunked == true))
        {
            return $"a {status} with content";
        }

        if (lengths > 1)
        {
            return "more than one Content-Length";
        }

        // RFC 9112 section 6.3: a Content-Length that is not one decimal number leaves the answer's
        // end unknown. HttpClient reads such a body to the connection's close: a node that keeps
        // the connection open would hold the try to its deadline.
        if (lengths == 1 && response.Content.Headers.ContentLength is null)
        {
            return $"an invalid Content-Length '{Clipped(declared!.First())}'";
        }

        if (response.Headers.NonValidated.TryGetValues("Transfer-Encoding", out var codings))
        {
            // RFC 9112 section 6.3: read two ways, the answer's end is a guess (a smuggling shape).
            if (lengths == 1)
            {
                return "both Content-Length and Transfer-Encoding";
            }

            // HttpClient undoes chunked only: a body still gzip-coded would be delivered as if plain.
            if (!HopByHopHeaders.IsChunkedOnly(codings.Count, codings.FirstOrDefault()))
            {
                return $"a Transfer-Encoding other than chunked ('{Clipped(codings.ToString())}')";
            }
        }

        return HasUnwritableValue(response.Headers.NonValidated) ?? HasUnwritableValue(content);
    }

    private static string Clipped(string value) => PrintableText.Of(value.Length > 64 ? value[..64] + "..." : value);

    private static string? HasUnwritableValue(HttpHeadersNonValidated headers)
    {
        foreach (var (name, values) in headers)
        {
            foreach (var value in values)
            {
                // Controls other than tab; HttpClient already turned CR, LF and NUL into spaces.
                if (value.AsSpan().IndexOfAnyInRange('\0', '\x08') >= 0 || value.AsSpan().IndexOfAnyInRange('\x0a', '\x1f') >= 0 || value.Contains('\x7f', StringComparison.Ordinal))
                {
                    return $"header {name} has a control character";
                }
            }
        }

        return null;
    }

    /// <summary>A new classifier chain's tests for an answer it must judge whole (a configuration reload).</summary>
    public void UseChain(IEnumerable<Func<IAnswerView, bool>> needsWholeAnswer) => _needsWholeAnswer = needsWholeAnswer.ToArray();

    /// <summary>One try. Never throws: it ends with an answer to classify, or a failure.</summary>
    /// <param name="traceParent">The W3C <c>traceparent</c> this try sends (its own span id), or null to pass the client's trace headers on untouched.</param>
    // Pooled: a try's state machine was, with the request handler's (which Kestrel's delegate
    // cannot pool), the largest allocation of the proxy's own code.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ForwardResult> SendAsync(ProxyRequest request, string? traceParent = null)
    {
        var deadline = StartDeadline(request.ClientAborted, out var clientGone);
        HttpResponseMessage? response = null;
        byte[]? rented = null;
        UpstreamAnswer? answer = null;
        try
        {
            using var message = BuildMessage(request, traceParent);
            // A HEAD never shares a connection: a node that sends a body after its HEAD answer would
            // leave those bytes to be read as the next try's answer on that connection (another
            // client's, measured: "STOLEN" delivered to 16 of 240 GETs). A connection used once
            // has no next answer.
            var invoker = request.Method == "HEAD" ? UnpooledInvoker() : _invoker;
            response = await invoker.SendAsync(message, deadline.Token).ConfigureAwait(false);
            LearnConnectionReuse(response);
            if ((int)response.StatusCode < 200)
            {
                // A final 1xx: this proxy forwards no upgrade (Upgrade is hop-by-hop), so a 101 or
                // any other is a node breaking the protocol, not an answer.
                return Failure(FailureKind.InvalidAnswer, true, $"invalid answer: status {(int)response.StatusCode} as a final answer");
            }

            if (AnswerFramingFault(response) is { } fault)
            {
                // A node that frames an answer two ways (or a way HttpClient only half undoes) may
                // do it again on the connection HttpClient drained and pooled: a later try sent on
                // it hung to the response timeout. It is no longer trusted with connection reuse.
                _framingBroken = true;
                _invoker = UnpooledInvoker();
                return Failure(FailureKind.InvalidAnswer, true, "invalid answer: " + fault);
            }

            var content = response.Content;
            var declared = content.Headers.ContentLength;
            var size = declared is { } length && length <= _settings.ResponseBufferLimit ? (int)length : _settings.ResponseBufferLimit;
            var read = 0;
            var complete = false;
            // The connection's stream is already there: the synchronous call returns it without a Task.
            var stream = content.ReadAsStream(deadline.Token);
            if (size > 0)
            {
                rented = ArrayPool<byte>.Shared.Rent(size);
                while (read < size)
                {
                    var n = await stream.ReadAsync(rented.AsMemory(read, size - read), deadline.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        complete = true;
                        break;
                    }

                    read += n;
                }
            }

            complete |= declared == read || request.Method == "HEAD";
            answer = new UpstreamAnswer(response, rented, read, complete, stream);
            (response, rented) = (null, null);
            await PrepareForJudgingAsync(answer, declared, deadline.Token).ConfigureAwait(false);
            (var judged, answer) = (answer, null);
            return new ForwardResult(judged, null);
        }
        catch (OperationCanceledException) when (request.ClientAborted.IsCancellationRequested)
        {
            return Failure(FailureKind.ClientGone, response is not null, "client closed the request");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && request.Body is StreamedBody { Finished: false } && response is null)
        {
            // The node was still being sent the body: the client's pace, not the node's.
            return Failure(FailureKind.ClientSlow, true, $"the request body was still arriving after {_settings.ResponseTimeout}");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return Failure(FailureKind.TimedOut, true, $"no whole answer within {_settings.ResponseTimeout}");
        }
        catch (Exception) when (request.Body is StreamedBody { ReadFailure: { } bodyFailure })
        {
            return Failure(FailureKind.ClientBody, response is not null, $"the request body could not be read: {bodyFailure.Message}");
        }
        catch (Exception ex)
        {
            return new ForwardResult(null, MapFailure(ex, response is not null));
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }

            response?.Dispose();
            answer?.Dispose();
            EndDeadline(deadline, clientGone);
        }
    }

    public void Dispose()
    {
        _pooled.Dispose();
        _unpooled?.Dispose();
        _tls?.Dispose();
    }

    // What the classifiers judge: the content decoded from its Content-Encoding (the client still
    // gets the node's bytes), and the whole of an answer a rule recognises as a fault it must judge
    // whole. Both are rare on the hot path: most answers are neither encoded nor larger than the buffer.
    private async ValueTask PrepareForJudgingAsync(UpstreamAnswer answer, long? declared, CancellationToken cancellationToken)
    {
        var coding = answer.Buffered.IsEmpty ? ContentDecoding.Coding.Identity : ContentDecoding.Of(answer.Response);
        if (coding != ContentDecoding.Coding.Identity)
        {
            answer.DecodeContent(coding, _settings.ResponseBufferLimit);
        }

        // Nothing buffered (ResponseBuffer 0) or a coding that cannot be decoded: nothing to judge by.
        if (answer.ContentComplete || answer.Buffered.IsEmpty || coding == ContentDecoding.Coding.Unknown || !NeedsWholeAnswer(answer))
        {
            return;
        }

        await answer.ReadOnAsync(_settings.FaultBufferLimit, declared, cancellationToken).ConfigureAwait(false);
        if (coding != ContentDecoding.Coding.Identity)
        {
            answer.DecodeContent(coding, _settings.FaultBufferLimit);
        }
    }

    private bool NeedsWholeAnswer(UpstreamAnswer answer)
    {
        foreach (var needsWhole in _needsWholeAnswer.AsSpan())
        {
            try
            {
                if (needsWhole(answer))
                {
                    return true;
                }
            }
            catch (Exception)
            {
                // A rule's test that cannot tell: judge the answer on what is buffered, as usual.
            }
        }

        return false;
    }

    // The try's token: cancelled by the response timeout or by the client going away.
    private CancellationTokenSource StartDeadline(CancellationToken clientAborted, out CancellationTokenRegistration clientGone)
    {
        if (!_idleDeadlines.TryDequeue(out var deadline))
        {
            deadline = new CancellationTokenSource();
        }

        deadline.CancelAfter(_settings.ResponseTimeout);
        clientGone = clientAborted.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), deadline);
        return deadline;
    }

    private void EndDeadline(CancellationTokenSource deadline, CancellationTokenRegistration clientGone)
    {
        // Dispose waits for a cancel already running, so the source is quiet before it is reused.
        clientGone.Dispose();
        if (deadline.TryReset())
        {
            _idleDeadlines.Enqueue(deadline);
        }
        else
        {
            deadline.Dispose();
        }
    }

    private void LearnConnectionReuse(HttpResponseMessage response)
    {
        var closes = response.Version == HttpVersion.Version10
            && !(response.Headers.NonValidated.TryGetValues("Connection", out var connection)
                && connection.ToString().Contains("keep-alive", StringComparison.OrdinalIgnoreCase));
        if (closes == ReferenceEquals(_invoker, _pooled) && _node.ReuseConnections && !_framingBroken)
        {
            _invoker = closes ? UnpooledInvoker() : _pooled;
        }
    }

    private HttpMessageInvoker UnpooledInvoker()
    {
        if (Volatile.Read(ref _unpooled) is { } unpooled)
        {
            return unpooled;
        }

        var created = new HttpMessageInvoker(CreateHandler(_node.Address, _settings, _tls, pooled: false), disposeHandler: true);
        var winner = Interlocked.CompareExchange(ref _unpooled, created, null);
        if (winner is not null)
        {
            created.Dispose();
            return winner;
        }

        return created;
    }

    private ForwardResult Failure(FailureKind kind, bool reachedNode, string reason) =>
        new(null, new Failed(_node.Name, kind, reachedNode, reason));

    private Failed MapFailure(Exception ex, bool answered)
    {
        var http = ex as HttpRequestException ?? ex.InnerException as HttpRequestException;
        var error = http?.HttpRequestError ?? HttpRequestError.Unknown;
        if (!answered && Find<NodeTlsException>(ex) is { } tls)
        {
            // Nothing was sent: like a refused connection, any method may go elsewhere.
            return new Failed(_node.Name, FailureKind.TlsFailed, ReachedNode: false, $"TLS handshake failed: {PrintableText.Of(tls.Message)}");
        }

        if (!answered && (error is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
            || ex is TaskCanceledException { InnerException: TimeoutException }))
        {
            // Connect failure or connect timeout: nothing was sent, any method may go elsewhere.
            return new Failed(_node.Name, FailureKind.Refused, ReachedNode: false, $"could not connect: {PrintableText.Of(Innermost(ex).Message)}");
        }

        if (error == HttpRequestError.ConfigurationLimitExceeded)
        {
            // The node's head passed what the proxy reads (64 KiB, as nginx's and HAProxy's buffers
            // bound theirs): a bad answer, not a broken connection.
            return new Failed(_node.Name, FailureKind.InvalidAnswer, ReachedNode: true, $"invalid answer: its head is larger than the proxy reads ({PrintableText.Of(Innermost(ex).Message)})");
        }

        if (error == HttpRequestError.InvalidResponse)
        {
            return new Failed(_node.Name, FailureKind.InvalidAnswer, ReachedNode: true, $"invalid answer: {PrintableText.Of(Innermost(ex).Message)}");
        }

        // A node that requires a client certificate refuses one's absence after a TLS 1.3 handshake
        // has completed on this side: all this side sees is the connection closing before an answer.
        var hint = !answered && _tls is not null && _node.Tls?.ClientCertificateFile is null
            ? " (if the node requires a client certificate, give it one with Tls:ClientCertificateFile)"
            : "";
        return new Failed(_node.Name, FailureKind.Dropped, ReachedNode: true, $"connection broke: {PrintableText.Of(Innermost(ex).Message)}{hint}");
    }

    private static T? Find<T>(Exception ex)
        where T : Exception
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    private Uri TargetUri(string pathAndQuery)
    {
        var last = Volatile.Read(ref _lastTarget);
        if (last is not null && string.Equals(last.PathAndQuery, pathAndQuery, StringComparison.Ordinal))
        {
            return last.Uri;
        }

        // Sent as received: no unescaping, no dot-segment removal (a node's path rules see what the client sent).
        var address = _node.Address;
        var uri = new Uri(
            address.Prefix.Length == 0 ? string.Concat(address.Origin, pathAndQuery) : string.Concat(address.Origin, address.Prefix, pathAndQuery),
            RawTarget);
        Volatile.Write(ref _lastTarget, new Target(pathAndQuery, uri));
        return uri;
    }

    private HttpRequestMessage BuildMessage(ProxyRequest request, string? traceParent)
    {
        var message = new HttpRequestMessage(HttpMethod.Parse(request.Method), TargetUri(request.PathAndQuery))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        if (_node.Address.HostHeader is { } host)
        {
            message.Headers.Host = host;
        }

        HttpContent? content = request.Body switch
        {
            BufferedBody buffered => new ReadOnlyMemoryContent(buffered.Content),
            StreamedBody streamed => new StreamedBodyContent(streamed.Stream),
            _ => null,
        };

        var headers = request.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            var (name, value) = headers[i];
            if (!message.Headers.TryAddWithoutValidation(name, value))
            {
                content ??= new ByteArrayContent([]);
                content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (traceParent is not null)
        {
            // The client's trace headers were left out of Headers (ProxyRequestReader): the node
            // hears of this try, a child in the client's trace, and the client's vendor state.
            message.Headers.TryAddWithoutValidation("traceparent", traceParent);
            if (request.Trace.Context.TraceState is { Length: > 0 } traceState)
            {
                message.Headers.TryAddWithoutValidation("tracestate", traceState);
            }
        }

        if (content is not null)
        {
            content.Headers.ContentLength = request.Body switch
            {
                BufferedBody buffered => buffered.Content.Length,
                StreamedBody streamed => streamed.Length,
                _ => 0,
            };
        }

        message.Content = content;
        return message;
    }

    private static SocketsHttpHandler CreateHandler(NodeAddress address, ForwardingSettings settings, NodeTlsClient? tls, bool pooled)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = settings.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            // Zero: a connection is never handed to a second try.
            PooledConnectionLifetime = pooled ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
            ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
            // Kestrel accepts a header value in UTF-8 and hands it over decoded; the default ASCII
            // encoder would then fail the try before sending anything, a client's byte blamed on the
            // node. Encoding it back as UTF-8 forwards the bytes the client sent.
            RequestHeaderEncodingSelector = static (_, _) => System.Text.Encoding.UTF8,
        };

        if (tls is not null)
        {
            handler.ConnectCallback = (context, cancellationToken) => tls.ConnectAsync(context.DnsEndPoint, cancellationToken);
        }

        if (address.UnixSocketPath is { } path)
        {
            handler.ConnectCallback = (_, cancellationToken) =>
                ConnectAsync(new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified), new UnixDomainSocketEndPoint(path), cancellationToken);
        }

        if (!pooled)
        {
            // A connection made for a try that was given up meanwhile is closed, not parked (see SingleTryConnection).
            var connect = handler.ConnectCallback ?? ConnectTcpAsync;
            handler.ConnectCallback = async (context, cancellationToken) =>
                new SingleTryConnection(await connect(context, cancellationToken).ConfigureAwait(false), TimeProvider.System);
        }

        return handler;
    }

    // What SocketsHttpHandler does without a ConnectCallback: a dual-mode socket, Nagle off.
    private static ValueTask<Stream> ConnectTcpAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        ConnectAsync(new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }, context.DnsEndPoint, cancellationToken);

    private static async ValueTask<Stream> ConnectAsync(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static readonly UriCreationOptions RawTarget = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private sealed record Target(string PathAndQuery, Uri Uri);
}

/// <summary>How a try ended at the transport level: an answer still to classify, or a failure.</summary>
public readonly record struct ForwardResult(UpstreamAnswer? Answer, Failed? Failure);

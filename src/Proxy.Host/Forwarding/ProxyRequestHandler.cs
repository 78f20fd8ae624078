using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Host.Telemetry;

namespace Proxy.Host.Forwarding;

/// <summary>
/// The client listener's only handler: hands each request to a RequestActor (through the
/// RequestSupervisor) and writes the one outcome it completes. No Ask: the outcome arrives on a
/// TaskCompletionSource the RequestActor owns.
/// </summary>
internal sealed class ProxyRequestHandler(
    IRequiredActor<RequestSupervisor> requestSupervisor,
    ProxyRequestReader reader,
    PrometheusProxyMetrics metrics,
    AccessLog accessLog,
    RecentRedispatches redispatches,
    Hosting.DrainDeadline drain,
    Configuration.ProxySettings settings)
{
    private readonly bool _tracing = settings.Tracing.Enabled;

    /// <summary>Logged and counted for a request still in flight when the stop's drain ran out: the proxy, not the client, ended it.</summary>
    private const string CutAtShutdown = "cut at shutdown: still in flight when Proxy:Shutdown:Drain ran out";

    private const string KestrelMovedContentLength = "X-Content-Length";

    // A streamed answer's node may pause this long between two reads (as it may for the whole buffered part).
    private readonly TimeSpan _streamIdle = settings.Forwarding.ResponseTimeout;

    private IActorRef? _requests;

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var requests = _requests ??= await requestSupervisor.GetAsync(context.RequestAborted).ConfigureAwait(false);
        var trace = _tracing ? Tracing.Start(context.Request) : default;

        // Request smuggling shape: framed both by Content-Length and Transfer-Encoding. Kestrel
        // frames it by Transfer-Encoding and moves the Content-Length to X-Content-Length
        // (aspnetcore#43523); the proxy refuses it rather than pass on a message read two ways.
        if (context.Request.Headers.ContainsKey(HeaderNames.TransferEncoding) && context.Request.Headers.ContainsKey(KestrelMovedContentLength))
        {
            await RefuseAsync(context, started, trace, StatusCodes.Status400BadRequest, "Content-Length and Transfer-Encoding conflict").ConfigureAwait(false);
            return;
        }

        // RFC 9112 section 6.1: a coding the proxy does not apply itself (gzip, chunked) would
        // reach the node still applied, framed by a Content-Length that hides it.
        if (context.Request.Headers.TryGetValue(HeaderNames.TransferEncoding, out var codings) && !HopByHopHeaders.IsChunkedOnly(codings.Count, codings.Count > 0 ? codings[0] : null))
        {
            await RefuseAsync(context, started, trace, StatusCodes.Status501NotImplemented, $"Transfer-Encoding '{codings}' is not supported: only chunked").ConfigureAwait(false);
            return;
        }

        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (ProxyRequestReader.HasInvalidTargetByte(rawTarget))
        {
            await RefuseAsync(context, started, trace, StatusCodes.Status400BadRequest, "the request target has a byte that is not visible ASCII").ConfigureAwait(false);
            return;
        }

        // A reverse proxy tunnels nothing: CONNECT would fail inside the upstream client and be
        // counted against the node (a handful opened every circuit).
        if (HttpMethods.IsConnect(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE";
            await RefuseAsync(context, started, trace, StatusCodes.Status405MethodNotAllowed, "CONNECT is not supported: this is a reverse proxy").ConfigureAwait(false);
            return;
        }

        ProxyRequest request;
        try
        {
            request = await reader.ReadAsync(context, rawTarget, trace).ConfigureAwait(false);
        }
        catch (Exception ex) when (drain.RanOut && ex is BadHttpRequestException or OperationCanceledException or IOException)
        {
            // The stop's deadline aborted the upload: not the client's doing.
            await RefuseAsync(context, started, trace, StatusCodes.Status503ServiceUnavailable, CutAtShutdown).ConfigureAwait(false);
            return;
        }
        catch (BadHttpRequestException ex)
        {
            // Too large, cut off or too slow: the client's fault, answered with Kestrel's status.
            await RefuseAsync(context, started, trace, ex.StatusCode, ex.Message).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException)
        {
            // The client left (or reset) while its body was being buffered (Kestrel's
            // ConnectionAbortedException is one): logged and counted like any client gone.
            await RefuseAsync(context, started, trace, ProxyResponseWriter.ClientClosed, "client closed request").ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is OverflowException or FormatException or InvalidDataException or IOException)
        {
            // A body Kestrel could not frame in a way it has no status for (a chunk size past 2^64
            // overflows): still the client's fault, and a 400, never a 500.
            await RefuseAsync(context, started, trace, StatusCodes.Status400BadRequest, $"the request body could not be read: {ex.Message}").ConfigureAwait(false);
            return;
        }

        // Completed by the RequestActor, which then goes idle: the rest of this method (writing the
        // answer to Kestrel's pipe, which never blocks) runs on in the actor's turn instead of
        // queueing a thread-pool item per request. NoSender: an implicit sender would be whatever
        // actor this thread is running.
        var completion = new TaskCompletionSource<RequestOutcome>();
        requests.Tell(new RequestSupervisor.Dispatch(request, completion), ActorRefs.NoSender);
        var outcome = await completion.Task.ConfigureAwait(false);
        if (outcome is Refused { Status: 400 } && request.Body is StreamedBody { ReadFailure: BadHttpRequestException bodyFailure })
        {
            outcome = new Refused(bodyFailure.StatusCode, bodyFailure.Message, null, outcome.Attempts);
        }

        // Counted and logged as written: the status the client got, not the node's.
        var (status, cut) = await ProxyResponseWriter.WriteAsync(context, outcome, _streamIdle).ConfigureAwait(false);
        var refusal = outcome is Refused refused ? refused.Reason : null;
        var attempts = outcome.Attempts;
        if (drain.RanOut && (status == ProxyResponseWriter.ClientClosed || context.RequestAborted.IsCancellationRequested
            || request.Body is StreamedBody { ReadFailure: not null }))
        {
            // Not a client that left: the stop aborted the connection (HAProxy's "K" flag). Counted
            // and logged as a 503, the proxy's own unavailability, with the reason in the line; the
            // try it cut off reads "shutdown" (not "client-gone", nor "client-body" for an upload).
            (status, refusal, attempts) = (StatusCodes.Status503ServiceUnavailable, CutAtShutdown, LastRenamed(attempts, "shutdown"));
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        metrics.RequestCompleted(status, attempts.Count, elapsed);
        if (cut is not null && outcome is Delivered delivered)
        {
            // The client got the head and part of the body, then an aborted connection: the node
            // broke off. Logged as such (HAProxy's "SD") and counted against the node.
            attempts = LastRenamed(attempts, "cut");
            delivered.Node?.Tell(new NodeActor.AnswerCut(cut));
        }

        Tracing.End(trace, context, status, attempts, refusal ?? cut);
        var traceId = trace.Context.TraceId;
        redispatches.Record(request.Method, request.PathAndQuery, status, traceId, attempts);
        if (accessLog.Enabled)
        {
            accessLog.Write(new AccessLogEntry(
                DateTime.UtcNow, context.Connection.RemoteIpAddress, request.Method, request.PathAndQuery, status, elapsed.TotalMilliseconds, attempts, refusal, traceId, cut));
        }
    }

    // The last try renamed: a delivered answer that broke off midway ("cut"), a try the stop's
    // drain deadline cut off ("shutdown").
    private static IReadOnlyList<Attempt> LastRenamed(IReadOnlyList<Attempt> attempts, string result)
    {
        if (attempts.Count == 0)
        {
            return attempts;
        }

        var renamed = attempts.ToArray();
        renamed[^1] = renamed[^1] with { Result = result };
        return renamed;
    }

    private async Task RefuseAsync(HttpContext context, long started, RequestTrace trace, int status, string reason)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        metrics.RequestCompleted(status, 0, elapsed);
        // The target as sent (percent-encoded), never the decoded path: "%0d%0a" must not become a line break in the log.
        accessLog.Write(new AccessLogEntry(
            DateTime.UtcNow, context.Connection.RemoteIpAddress, context.Request.Method,
            PrintableText.Of(ProxyRequestReader.OriginForm(context.Features.Get<IHttpRequestFeature>()?.RawTarget)), status, elapsed.TotalMilliseconds, [], reason, trace.Context.TraceId));
        Tracing.End(trace, context, status, [], reason);
        if (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            await ProxyResponseWriter.WriteAsync(context, new Refused(status, reason, null, []), _streamIdle).ConfigureAwait(false);
        }
    }
}

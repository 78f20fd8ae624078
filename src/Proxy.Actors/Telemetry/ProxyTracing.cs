using System.Diagnostics;
using System.Globalization;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;

namespace Proxy.Actors.Telemetry;

/// <summary>
/// W3C trace context and spans (ADR 0019). Every client request belongs to a trace: the client's,
/// when its <c>traceparent</c> is valid, or a new one. Every try sends its node a <c>traceparent</c>
/// of that trace with a span id of its own, whether or not anything records spans. Spans (one
/// server span per request, one client span per try) exist only while something listens to
/// <see cref="SourceName"/> and samples them: the host's OpenTelemetry exporter, or none.
/// </summary>
public static class ProxyTracing
{
    /// <summary>The <see cref="ActivitySource"/> name to subscribe to (OpenTelemetry's <c>AddSource("Proxy")</c>).</summary>
    public const string SourceName = "Proxy";

    /// <summary>The source of the proxy's spans.</summary>
    public static ActivitySource Source { get; } = new(SourceName, typeof(ProxyTracing).Assembly.GetName().Version?.ToString(3));

    /// <summary>
    /// Starts a client request's trace: a child of <paramref name="traceParent"/> when it is a valid
    /// W3C <c>traceparent</c> (its <paramref name="traceState"/> kept), else a new trace. The span is
    /// null unless a listener samples it; the context is there either way.
    /// </summary>
    public static RequestTrace StartRequest(string? traceParent, string? traceState, string method)
    {
        var hasParent = ActivityContext.TryParse(WellFormed(traceParent), traceState, isRemote: true, out var parent);
        if (Source.HasListeners())
        {
            var span = Start(method, ActivityKind.Server, hasParent ? parent : default);
            if (span is not null)
            {
                return new RequestTrace(span.Context, span);
            }

            // Listened to, and the sampler said no: the backends are told it was not sampled.
            return new RequestTrace(new ActivityContext(hasParent ? parent.TraceId : ActivityTraceId.CreateRandom(), default, ActivityTraceFlags.None, hasParent ? parent.TraceState : null), null);
        }

        // Nothing records: the same trace, passed on with the client's sampling decision (the flags
        // this proxy does not know are zeroed, as W3C asks). An unrecorded request span needs no
        // id of its own: only its tries' ids are ever sent.
        return hasParent
            ? new RequestTrace(new ActivityContext(parent.TraceId, default, parent.TraceFlags & ActivityTraceFlags.Recorded, parent.TraceState), null)
            : new RequestTrace(new ActivityContext(ActivityTraceId.CreateRandom(), default, ActivityTraceFlags.None), null);
    }

    // W3C Trace Context, section 4.3: a version this proxy does not know (above 00, not ff) is read
    // by its first four fields, whatever follows them; version 00 has exactly those. The fields are
    // separated by dashes, which ActivityContext.TryParse does not check: anything else is not a
    // traceparent (and its tracestate goes with it).
    private static string? WellFormed(string? traceParent)
    {
        if (traceParent is null || traceParent.Length < 55 || traceParent[2] != '-' || traceParent[35] != '-' || traceParent[52] != '-')
        {
            return null;
        }

        return traceParent.Length > 55 && traceParent[55] == '-' && !traceParent.StartsWith("00-", StringComparison.Ordinal) && !traceParent.StartsWith("ff-", StringComparison.OrdinalIgnoreCase)
            ? traceParent[..55]
            : traceParent;
    }

    /// <summary>
    /// Starts one try's trace: its span (a child of the request's, when that one is recorded) and the
    /// <c>traceparent</c> the node is sent, naming this try's span id.
    /// </summary>
    public static TryTrace StartTry(in RequestTrace request, string method, NodeSpanTags node, string pathAndQuery, int resend)
    {
        if (!request.IsActive)
        {
            return default;
        }

        Activity? span = null;
        if (request.Span is not null)
        {
            span = Start(method, ActivityKind.Client, request.Context);
            if (span is { IsAllDataRequested: true })
            {
                span.SetTag("http.request.method", method);
                span.SetTag("server.address", node.ServerAddress);
                if (node.ServerPort is { } port)
                {
                    span.SetTag("server.port", port);
                }

                span.SetTag("url.full", node.UrlPrefix + pathAndQuery);
                span.SetTag("proxy.node", node.Node);
                if (resend > 0)
                {
                    span.SetTag("http.request.resend_count", resend);
                }
            }
        }

        var context = span?.Context ?? new ActivityContext(request.Context.TraceId, ActivitySpanId.CreateRandom(), request.Context.TraceFlags);
        return new TryTrace(span, TraceParent(context));
    }

    /// <summary>
    /// Ends a try's span with how it ended: the node's status (0 when it gave none), the proxy's
    /// verdict, the rule that decided, and an error status for anything but a delivered answer.
    /// </summary>
    public static void EndTry(Activity? span, TryOutcome outcome, int status)
    {
        if (span is null)
        {
            return;
        }

        if (span.IsAllDataRequested)
        {
            if (status > 0)
            {
                span.SetTag("http.response.status_code", status);
            }

            var result = Attempt.Describe(outcome);
            span.SetTag("proxy.try.result", result);
            switch (outcome)
            {
                case Answered:
                    span.SetTag("proxy.verdict", "deliver");
                    break;
                case Overloaded overloaded:
                    span.SetTag("proxy.verdict", "overloaded");
                    span.SetTag("proxy.classifier.rule", overloaded.Rule);
                    span.SetTag("error.type", "overloaded");
                    span.SetStatus(ActivityStatusCode.Error, $"overloaded (rule '{overloaded.Rule}')");
                    break;
                case Failed failed:
                    span.SetTag("proxy.verdict", "failed");
                    if (failed.Kind == FailureKind.Classified && failed.Rule is { } rule)
                    {
                        span.SetTag("proxy.classifier.rule", rule);
                    }

                    span.SetTag("error.type", result);
                    span.SetStatus(ActivityStatusCode.Error, failed.Reason);
                    break;
            }
        }

        Stop(span);
    }

    /// <summary>Ends a span and leaves <see cref="Activity.Current"/> as it was (actors and handlers share threads).</summary>
    public static void Stop(Activity span)
    {
        var current = Activity.Current;
        span.Stop();
        Activity.Current = current;
    }

    /// <summary>The W3C <c>traceparent</c> of a span: <c>00-{trace id}-{span id}-{flags}</c>.</summary>
    public static string TraceParent(in ActivityContext context) =>
        string.Create(55, context, static (chars, c) =>
        {
            "00-".CopyTo(chars);
            c.TraceId.ToHexString().CopyTo(chars[3..]);
            chars[35] = '-';
            c.SpanId.ToHexString().CopyTo(chars[36..]);
            chars[52] = '-';
            ((byte)c.TraceFlags).TryFormat(chars[53..], out _, "x2", CultureInfo.InvariantCulture);
        });

    // Started without becoming Activity.Current: a span here is carried explicitly, never through
    // the thread (an actor's turn would otherwise leave it as the next message's current span).
    private static Activity? Start(string name, ActivityKind kind, ActivityContext parent)
    {
        var current = Activity.Current;
        Activity.Current = null;
        var span = Source.StartActivity(name, kind, parent);
        Activity.Current = current;
        return span;
    }
}

/// <summary>
/// A client request's place in its trace: the context its tries are children of, and its span when
/// one is recorded. The default value means tracing is off (<c>Proxy:Tracing:Enabled=false</c>).
/// </summary>
public readonly record struct RequestTrace(ActivityContext Context, Activity? Span)
{
    /// <summary>False when tracing is off: the request's trace headers are passed on untouched.</summary>
    public bool IsActive => Context.TraceId != default;
}

/// <summary>One try's span (null when not recorded) and the <c>traceparent</c> its node is sent.</summary>
public readonly record struct TryTrace(Activity? Span, string? TraceParent);

/// <summary>The attributes of a node's try spans that never change: computed once per node.</summary>
public sealed record NodeSpanTags(string Node, string ServerAddress, int? ServerPort, string UrlPrefix)
{
    public static NodeSpanTags Of(NodeSettings node)
    {
        var address = node.Address;
        if (address.UnixSocketPath is { } path)
        {
            return new NodeSpanTags(node.Name, path, null, "http://localhost" + address.Prefix);
        }

        var uri = new Uri(address.Origin);
        return new NodeSpanTags(node.Name, uri.Host, uri.Port, address.Origin + address.Prefix);
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;

namespace Proxy.Host.Telemetry;

/// <summary>How spans travel to the collector.</summary>
public enum OtlpProtocol
{
    HttpProtobuf,
    Grpc,
}

/// <summary>
/// <c>Proxy:Tracing</c>: trace context on every try (<see cref="Enabled"/>), and, when
/// <see cref="OtlpEndpoint"/> is set, spans exported over OTLP with parent-based sampling.
/// </summary>
public sealed record TracingSettings(bool Enabled, Uri? OtlpEndpoint, OtlpProtocol Protocol, double SampleRatio, string ServiceName)
{
    public static TracingSettings Default { get; } = new(true, null, OtlpProtocol.HttpProtobuf, 1, "proxy");
}

/// <summary>The host's side of tracing (ADR 0019): the OpenTelemetry pipeline and the server span's attributes.</summary>
public static class Tracing
{
    /// <summary>
    /// Records the proxy's spans and exports them over OTLP, when an endpoint is configured. A host
    /// built on the package may add its own exporters with
    /// <c>builder.Services.ConfigureOpenTelemetryTracerProvider(t => …)</c> after this.
    /// </summary>
    public static void AddExport(IServiceCollection services, TracingSettings settings, string version)
    {
        if (settings.Enabled && settings.OtlpEndpoint is { } endpoint)
        {
            AddOtlpExport(services, settings, endpoint, version);
        }
    }

    // Apart, and never inlined, so a proxy that exports nothing never loads the OpenTelemetry SDK:
    // the JIT loads every assembly a method names, and optimising AddExport it looked into this
    // one to inline it (0.4 MB of the SDK's files resident, seen in /proc/PID/smaps).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddOtlpExport(IServiceCollection services, TracingSettings settings, Uri endpoint, string version)
    {
        services.AddHostedService<OtlpExportLogService>();
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(settings.ServiceName, serviceVersion: version))
            .WithTracing(tracing => tracing
                .AddSource(ProxyTracing.SourceName)
                // The client's decision is kept (a sampled parent is recorded, an unsampled one is
                // not); a new trace is recorded at the configured ratio.
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(settings.SampleRatio)))
                .AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = endpoint;
                    otlp.Protocol = settings.Protocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                }));
    }

    /// <summary>
    /// Starts the request's trace from its <c>traceparent</c> (exactly one, else a new trace) and
    /// <c>tracestate</c> (several lines are one list, joined as RFC 9110 section 5.3 allows).
    /// </summary>
    public static RequestTrace Start(HttpRequest request)
    {
        var headers = request.Headers;
        var parent = headers.TraceParent;
        var state = headers.TraceState;
        return ProxyTracing.StartRequest(
            parent.Count == 1 ? parent[0] : null,
            state.Count switch { 0 => null, 1 => state[0], _ => string.Join(',', state.ToArray()) },
            request.Method);
    }

    /// <summary>
    /// Ends the server span with the HTTP server attributes of OpenTelemetry's semantic conventions,
    /// the status the client got, the redispatch count and the tries.
    /// </summary>
    public static void End(in RequestTrace trace, HttpContext context, int status, IReadOnlyList<Attempt> attempts, string? refusal)
    {
        if (trace.Span is not { } span)
        {
            return;
        }

        if (span.IsAllDataRequested)
        {
            var request = context.Request;
            span.SetTag("http.request.method", request.Method);
            span.SetTag("url.scheme", request.Scheme);
            span.SetTag("url.path", request.Path.Value);
            if (request.QueryString.HasValue)
            {
                span.SetTag("url.query", request.QueryString.Value![1..]);
            }

            var host = Forwarding.ProxyRequestReader.HostAsSent(request);
            if (host.HasValue)
            {
                span.SetTag("server.address", host.Host);
                span.SetTag("server.port", host.Port ?? context.Connection.LocalPort);
            }

            span.SetTag("client.address", context.Connection.RemoteIpAddress?.ToString());
            span.SetTag("network.protocol.version", request.Protocol.StartsWith("HTTP/", StringComparison.Ordinal) ? request.Protocol[5..] : request.Protocol);
            if (request.Headers.UserAgent is { Count: > 0 } agent)
            {
                span.SetTag("user_agent.original", agent.ToString());
            }

            span.SetTag("http.response.status_code", status);
            span.SetTag("proxy.redispatch_count", Math.Max(0, attempts.Count - 1));
            if (attempts.Count > 0)
            {
                span.SetTag("proxy.tries", attempts.Select(a => a.ToString()).ToArray());
            }

            if (refusal is not null)
            {
                span.SetTag("proxy.refused", refusal);
            }

            // Semantic conventions: a server span is an error for a 5xx only (a 4xx is the client's).
            if (status >= 500)
            {
                span.SetTag("error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                span.SetStatus(ActivityStatusCode.Error, refusal);
            }
        }

        ProxyTracing.Stop(span);
    }
}

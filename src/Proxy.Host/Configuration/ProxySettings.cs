using Microsoft.AspNetCore.Http;
using Proxy.Actors.Classification;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;

namespace Proxy.Host.Configuration;

/// <summary>The validated configuration: everything the host and the actors run on.</summary>
public sealed record ProxySettings(
    IReadOnlyList<BindingAddress> Listen,
    BindingAddress DebugListen,
    string? DebugToken,
    IReadOnlyList<NodeSettings> Nodes,
    ForwardingSettings Forwarding,
    IReadOnlyList<ClassifierSpec> Classifiers,
    HealthSettings Health,
    RequestSettings Requests,
    TimeSpan RestoreInterval,
    int RequestBufferLimit,
    long? MaxRequestBody,
    TimeSpan RequestHeadersTimeout,
    int MinRequestBodyRate,
    IReadOnlyList<System.Net.IPNetwork> TrustedProxies,
    TimeSpan ShutdownDrain,
    bool Demo,
    ClusterSettings? Cluster)
{
    /// <summary><c>Proxy:Tuning:BatchScheduleSocketThreads</c>: see <see cref="Hosting.SocketThreadScheduling"/>.</summary>
    public bool BatchScheduleSocketThreads { get; init; } = true;

    /// <summary><c>Proxy:Limits:KeepAliveTimeout</c>: an idle client connection is closed after this.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary><c>Proxy:AccessLog</c>: one line per request, where and how.</summary>
    public Telemetry.AccessLogSettings AccessLog { get; init; } = Telemetry.AccessLogSettings.Default;

    /// <summary><c>Proxy:Tracing</c>: trace context on every try, and where spans are exported (ADR 0019).</summary>
    public Telemetry.TracingSettings Tracing { get; init; } = Telemetry.TracingSettings.Default;

    /// <summary><c>Proxy:Tls</c>: the certificate of the https:// listeners (null when none is https://).</summary>
    public ListenerTlsSettings? ListenerTls { get; init; }

    /// <summary><c>Proxy:Limits:MaxConnections</c>: client connections open at once (null: no limit).</summary>
    public int? MaxConnections { get; init; }

    /// <summary>The embedded demo nodes <c>Proxy:Demo</c> starts: names and addresses (<c>Demo:Ports</c>, default 9001 and 9002).</summary>
    public IReadOnlyList<(string Name, string Address)> DemoNodes { get; init; } = [];

    /// <summary>Nodes with <c>Resolve: true</c>: one node per DNS record of their host, kept up to date (ADR 0015).</summary>
    public IReadOnlyList<DiscoveredNode> DiscoveredNodes { get; init; } = [];

    /// <summary>What the configuration allows but an operator should know about; logged once at start-up.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

/// <summary>The PEM certificate (with its chain) and key of the https:// listeners; watched for renewal.</summary>
public sealed record ListenerTlsSettings(string CertificateFile, string? KeyFile);

/// <summary>Cluster membership, when <c>Proxy:Cluster:Enabled</c>.</summary>
public sealed record ClusterSettings(string Host, int Port, IReadOnlyList<string> Seeds, TimeSpan StableAfter, TimeSpan MarkLifetime, string? DnsName = null, ClusterTlsSettings? Tls = null);

/// <summary><c>Proxy:Cluster:Tls</c>: the member's certificate and key, and the CA its peers' certificates must chain to.</summary>
public sealed record ClusterTlsSettings(string CertificateFile, string? KeyFile, string CaFile);

/// <summary>A configured node found by DNS: the template each record's node copies, and how often to resolve.</summary>
public sealed record DiscoveredNode(NodeSettings Template, TimeSpan Interval);

namespace Proxy.Host.Configuration;

/// <summary>The <c>Proxy</c> configuration section as bound; <see cref="ProxySettingsFactory"/> validates it.</summary>
public sealed class ProxyOptions
{
    public const string Section = "Proxy";

    public string Listen { get; set; } = "http://0.0.0.0:8000";

    public DebugOptions Debug { get; set; } = new();

    /// <summary>The certificate of the https:// listeners.</summary>
    public TlsOptions Tls { get; set; } = new();

    public List<NodeOptions> Nodes { get; set; } = [];

    public RedispatchOptions Redispatch { get; set; } = new();

    public OverloadOptions Overload { get; set; } = new();

    public TimeoutOptions Timeouts { get; set; } = new();

    public CircuitOptions Circuit { get; set; } = new();

    public LimitOptions Limits { get; set; } = new();

    public ShutdownOptions Shutdown { get; set; } = new();

    public ForwardingOptions Forwarding { get; set; } = new();

    public ClusterOptions Cluster { get; set; } = new();

    public TuningOptions Tuning { get; set; } = new();

    public AccessLogOptions AccessLog { get; set; } = new();

    public TracingOptions Tracing { get; set; } = new();

    /// <summary>Starts two embedded demo nodes (and proxies to them when no node is configured).</summary>
    public bool Demo { get; set; }
}

public sealed class DebugOptions
{
    public string Listen { get; set; } = "http://127.0.0.1:8081";

    /// <summary>Bearer token every debug request must carry; required when <see cref="Listen"/> is not loopback.</summary>
    public string? Token { get; set; }
}

public sealed class NodeOptions
{
    public string? Name { get; set; }

    public string? Address { get; set; }

    public int Weight { get; set; } = 128;

    /// <summary>False: every try on a connection of its own, for a node not trusted to keep HTTP/1.1 framing.</summary>
    public bool ReuseConnections { get; set; } = true;

    /// <summary>True: the address names a host whose A/AAAA records are the nodes, one per record, named <c>name@ip</c>.</summary>
    public bool Resolve { get; set; }

    /// <summary>How often a <see cref="Resolve"/> node's host is resolved again.</summary>
    public TimeSpan ResolveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How an https:// node is verified (null: against the system store, by its host name).</summary>
    public NodeTlsOptions? Tls { get; set; }
}

public sealed class NodeTlsOptions
{
    /// <summary>PEM bundle of the CAs the node's certificate must chain to; unset: the system store.</summary>
    public string? CaFile { get; set; }

    /// <summary>The name sent as SNI and required in the node's certificate; unset: the address's host.</summary>
    public string? ServerName { get; set; }

    /// <summary>PEM certificate this proxy shows a node that asks for one (mutual TLS).</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>PEM key of <see cref="ClientCertificateFile"/>; unset: the key is in that file.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>True: the node's certificate is not verified at all (warned about at start-up).</summary>
    public bool Insecure { get; set; }
}

public sealed class TlsOptions
{
    /// <summary>PEM certificate of the https:// listeners, followed by its chain (fullchain.pem).</summary>
    public string? CertificateFile { get; set; }

    /// <summary>PEM private key of <see cref="CertificateFile"/>; unset: the key is in that file.</summary>
    public string? KeyFile { get; set; }
}

public sealed class RedispatchOptions
{
    public int Max { get; set; } = 1;
}

public sealed class OverloadOptions
{
    public TimeSpan? RestoreInterval { get; set; }

    /// <summary>How many restore ticks take a marked node from almost nothing back to its configured weight.</summary>
    public int RestoreSteps { get; set; } = 4;
}

public sealed class TimeoutOptions
{
    public TimeSpan Connect { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan Response { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class CircuitOptions
{
    /// <summary>Consecutive failed tries that open a node's circuit.</summary>
    public int FailureThreshold { get; set; } = 5;

    /// <summary>How long an open circuit keeps the node out before a half-open probe.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(10);
}

public sealed class LimitOptions
{
    /// <summary>Request bodies up to this size are buffered and can be redispatched; larger ones stream once.</summary>
    public int RequestBuffer { get; set; } = 1024 * 1024;

    /// <summary>How much of an answer is buffered for classification; the rest streams through.</summary>
    public int ResponseBuffer { get; set; } = 64 * 1024;

    /// <summary>
    /// How much of an answer that is recognisably a fault (an XML-RPC <c>fault</c>) is buffered so it is
    /// judged whole, and how much of a compressed one is decoded for judging.
    /// </summary>
    public int FaultBuffer { get; set; } = 1024 * 1024;

    /// <summary>Largest request body accepted (413 above it); unset means no limit.</summary>
    public long? MaxRequestBody { get; set; }

    /// <summary>How long a client may take to send its request headers.</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Slowest a client may trickle its body, in bytes per second (after a 5 s grace); 0 turns the check off.</summary>
    public int MinRequestBodyRate { get; set; } = 240;

    /// <summary>How long a client connection may sit idle (before its first request or between two) before it is closed.</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Client connections open at once; one more is closed as soon as it is accepted. Unset: no limit.</summary>
    public int? MaxConnections { get; set; }
}

public sealed class ForwardingOptions
{
    /// <summary>
    /// Addresses or CIDR ranges of proxies in front of this one. Their X-Forwarded-* headers are kept
    /// (and X-Forwarded-For appended to); anyone else's are replaced, so clients cannot spoof them.
    /// </summary>
    /// <remarks>Unset means loopback only (a local sidecar proxy); setting it replaces that default.</remarks>
    public List<string>? TrustedProxies { get; set; }
}

public sealed class ShutdownOptions
{
    /// <summary>How long SIGTERM waits for in-flight requests before the process exits.</summary>
    public TimeSpan Drain { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class AccessLogOptions
{
    /// <summary>One line per client request; false turns the access log off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>text</c> or <c>json</c>.</summary>
    public string Format { get; set; } = "text";

    /// <summary>The file the lines are appended to (reopened on SIGHUP); unset: standard output.</summary>
    public string? Path { get; set; }
}

public sealed class TracingOptions
{
    /// <summary>W3C trace context: each try sends its node a <c>traceparent</c> of the client's trace (or a new one); false passes the client's headers on untouched.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where spans are exported over OTLP; unset: none are recorded.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>http/protobuf</c> (port 4318, <c>/v1/traces</c>) or <c>grpc</c> (port 4317).</summary>
    public string OtlpProtocol { get; set; } = "http/protobuf";

    /// <summary>The share of new traces recorded (0 to 1); a client's sampling decision is kept.</summary>
    public string SampleRatio { get; set; } = "1";

    /// <summary>The <c>service.name</c> the spans are exported under.</summary>
    public string ServiceName { get; set; } = "proxy";
}

public sealed class TuningOptions
{
    /// <summary>On Linux, runs the runtime's socket event threads under <c>SCHED_BATCH</c> (ADR 0010).</summary>
    public bool BatchScheduleSocketThreads { get; set; } = true;
}

public sealed class ClusterOptions
{
    public bool Enabled { get; set; }

    /// <summary>The address other members reach this one at.</summary>
    public string Host { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 4053;

    /// <summary>Contact points, <c>akka.tcp://proxy@host:port</c>, in any order; empty (and no <see cref="DnsName"/>) means this member forms a cluster alone.</summary>
    public List<string> Seeds { get; set; } = [];

    /// <summary>A DNS name whose A/AAAA records are the members (a headless Kubernetes service, a compose alias), each at <see cref="Port"/>.</summary>
    public string? DnsName { get; set; }

    /// <summary>How long membership must be stable before unreachable members are downed.</summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(7);

    /// <summary>Mutual TLS between the members: only a peer whose certificate chains to <see cref="ClusterTlsOptions.CaFile"/> is talked to.</summary>
    public ClusterTlsOptions? Tls { get; set; }
}

public sealed class ClusterTlsOptions
{
    /// <summary>This member's certificate (PEM; the blocks after the first are its chain), shown to the peers it connects to and that connect to it.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>Its key (PEM), when not in <see cref="CertificateFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>The CA (PEM) whose certificates the fleet's members hold.</summary>
    public string? CaFile { get; set; }
}

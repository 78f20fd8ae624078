using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Proxy.Actors.Classification;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Tls;
using Proxy.Host.Classification;
using Proxy.Host.Telemetry;

namespace Proxy.Host.Configuration;

/// <summary>
/// Binds and validates the <c>Proxy</c> section. Every problem becomes a
/// <see cref="ProxyConfigurationException"/> naming the offending key, so start-up stops with one line.
/// </summary>
public static class ProxySettingsFactory
{
    public const int MinWeight = 1;
    public const int MaxWeight = 256;

    public static readonly TimeSpan DefaultRestoreInterval = TimeSpan.FromSeconds(30);

    /// <summary>The ports of the demo nodes when <c>Proxy:Demo</c> is on and <c>Demo:Ports</c> does not say.</summary>
    public static readonly IReadOnlyList<int> DefaultDemoPorts = [9001, 9002];

    /// <param name="checkAccessLogFile">
    /// Whether <c>Proxy:AccessLog:Path</c> is opened to prove it can be written: at start-up. A
    /// reload does not (the running log keeps its file; a new path needs a restart, which checks
    /// it), so a directory logrotate moved away does not refuse a node change.
    /// </param>
    public static ProxySettings Create(IConfiguration configuration, ClassifierTypes? classifierTypes = null, bool checkAccessLogFile = true)
    {
        var options = Bind(configuration);
        var demo = options.Demo;
        var demoNodes = DemoNodes(configuration.GetSection("Demo:Ports"));
        if (demo && options.Nodes.Count == 0)
        {
            options.Nodes = demoNodes.Select(n => new NodeOptions { Name = n.Name, Address = n.Address }).ToList();
        }

        var listen = options.Listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(url => ParseListen("Proxy:Listen", url))
            .ToArray();
        if (listen.Length == 0)
        {
            throw new ProxyConfigurationException("Proxy:Listen", "at least one URL is required");
        }

        var debugListen = ParseListen("Proxy:Debug:Listen", options.Debug.Listen);
        var warnings = new List<string>();
        var listenerTls = CreateListenerTls(options.Tls, listen.Append(debugListen), warnings);
        if (listen.Any(l => l.Port == debugListen.Port && l.Port != 0))
        {
            throw new ProxyConfigurationException("Proxy:Debug:Listen", $"port {debugListen.Port} is also a client listener port; the debug listener must be separate");
        }

        var debugToken = string.IsNullOrWhiteSpace(options.Debug.Token) ? null : options.Debug.Token;
        if (debugToken is null && !IsLoopback(debugListen))
        {
            throw new ProxyConfigurationException("Proxy:Debug:Token", $"is required when Proxy:Debug:Listen ({debugListen}) is not a loopback address");
        }

        var all = ValidateNodes(options.Nodes, warnings, listen);
        var discovered = new List<DiscoveredNode>();
        var nodes = new List<NodeSettings>();
        for (var i = 0; i < all.Count; i++)
        {
            var node = options.Nodes[i];
            if (!node.Resolve)
            {
                nodes.Add(all[i]);
                continue;
            }

            if (all[i].Address.Host is not { } host || Uri.CheckHostName(host) != UriHostNameType.Dns)
            {
                throw new ProxyConfigurationException($"Proxy:Nodes:{i}:Resolve", $"needs an http:// or https:// address that names a host (was '{node.Address}')");
            }

            Positive($"Proxy:Nodes:{i}:ResolveInterval", node.ResolveInterval);

            // Each record's node is dialled by IP and verified by the name it was found under.
            var template = all[i].Address.IsHttps
                ? all[i] with { Tls = (all[i].Tls ?? NodeTlsSettings.Default) with { ServerName = all[i].Tls?.ServerName ?? host } }
                : all[i];
            discovered.Add(new DiscoveredNode(template, node.ResolveInterval));
        }

        var classifiers = CreateClassifiers(configuration.GetSection("Proxy:Classifiers"), classifierTypes ?? ClassifierTypes.CreateWithBuiltIns(), warnings);

        Positive("Proxy:Timeouts:Connect", options.Timeouts.Connect);
        Positive("Proxy:Timeouts:Response", options.Timeouts.Response);
        Positive("Proxy:Circuit:BreakDuration", options.Circuit.BreakDuration);
        var restoreInterval = options.Overload.RestoreInterval ?? (demo ? TimeSpan.FromSeconds(5) : DefaultRestoreInterval);
        Positive("Proxy:Overload:RestoreInterval", restoreInterval);
        InRange("Proxy:Overload:RestoreSteps", options.Overload.RestoreSteps, 1, MaxWeight);
        InRange("Proxy:Redispatch:Max", options.Redispatch.Max, 0, 16);
        InRange("Proxy:Circuit:FailureThreshold", options.Circuit.FailureThreshold, 1, int.MaxValue);
        InRange("Proxy:Limits:RequestBuffer", options.Limits.RequestBuffer, 0, 64 * 1024 * 1024);
        InRange("Proxy:Limits:ResponseBuffer", options.Limits.ResponseBuffer, 0, 64 * 1024 * 1024);
        InRange("Proxy:Limits:FaultBuffer", options.Limits.FaultBuffer, 0, 64 * 1024 * 1024);
        if (options.Limits.MaxRequestBody is < 0)
        {
            throw new ProxyConfigurationException("Proxy:Limits:MaxRequestBody", $"must not be negative (was {options.Limits.MaxRequestBody})");
        }

        Positive("Proxy:Limits:RequestHeadersTimeout", options.Limits.RequestHeadersTimeout);
        Positive("Proxy:Limits:KeepAliveTimeout", options.Limits.KeepAliveTimeout);
        if (options.Limits.MaxConnections is < 1)
        {
            throw new ProxyConfigurationException("Proxy:Limits:MaxConnections", $"must be at least 1 (was {options.Limits.MaxConnections}); leave it unset for no limit");
        }
        InRange("Proxy:Limits:MinRequestBodyRate", options.Limits.MinRequestBodyRate, 0, int.MaxValue);
        var trusted = (options.Forwarding.TrustedProxies ?? ["127.0.0.0/8", "::1/128"]).Select((text, i) =>
            System.Net.IPNetwork.TryParse(text.Contains('/') ? text : text + (text.Contains(':') ? "/128" : "/32"), out var network)
                ? network
                : throw new ProxyConfigurationException($"Proxy:Forwarding:TrustedProxies:{i}", $"'{text}' is not an IP address or CIDR range")).ToArray();

        var accessLog = CreateAccessLog(options.AccessLog, checkAccessLogFile);
        var tracing = CreateTracing(options.Tracing);
        var cluster = CreateCluster(options.Cluster, restoreInterval * options.Overload.RestoreSteps + options.Circuit.BreakDuration, warnings);

        // A day: far beyond any sane drain, and within what a timer can wait (24.8 days).
        if (options.Shutdown.Drain < TimeSpan.Zero || options.Shutdown.Drain > TimeSpan.FromDays(1))
        {
            throw new ProxyConfigurationException("Proxy:Shutdown:Drain", $"must be between 0 and 1 day (was {options.Shutdown.Drain})");
        }

        // A fault buffer below the response buffer would be no buffer at all: every answer gets the larger.
        var forwarding = new ForwardingSettings(
            options.Timeouts.Connect, options.Timeouts.Response, options.Limits.ResponseBuffer, Math.Max(options.Limits.ResponseBuffer, options.Limits.FaultBuffer));
        var health = new HealthSettings(options.Overload.RestoreSteps, options.Circuit.FailureThreshold, options.Circuit.BreakDuration) { RestoreInterval = restoreInterval };
        var requests = new RequestSettings(options.Redispatch.Max, restoreInterval);

        return new ProxySettings(
            listen, debugListen, debugToken, nodes, forwarding, classifiers, health, requests, restoreInterval,
            options.Limits.RequestBuffer, options.Limits.MaxRequestBody, options.Limits.RequestHeadersTimeout, options.Limits.MinRequestBodyRate,
            trusted, options.Shutdown.Drain, demo, cluster)
        {
            BatchScheduleSocketThreads = options.Tuning.BatchScheduleSocketThreads,
            DemoNodes = demoNodes,
            DiscoveredNodes = discovered,
            Warnings = warnings,
            KeepAliveTimeout = options.Limits.KeepAliveTimeout,
            ListenerTls = listenerTls,
            AccessLog = accessLog,
            Tracing = tracing,
            MaxConnections = options.Limits.MaxConnections,
        };
    }

    // demo-1 and demo-2 on 127.0.0.1, on the ports Demo:Ports:0 and Demo:Ports:1 give (both or
    // neither; 9001 and 9002 when neither): outside the Proxy section, beside --demo-node's Demo:Name
    // and Demo:Listen.
    private static IReadOnlyList<(string Name, string Address)> DemoNodes(IConfigurationSection ports)
    {
        var given = ports.GetChildren().ToArray();
        if (given.Length == 0)
        {
            return DefaultDemoPorts.Select((port, i) => DemoNode(i, port)).ToArray();
        }

        if (given.Length != DefaultDemoPorts.Count || given.Any(p => p.Key is not ("0" or "1")))
        {
            throw new ProxyConfigurationException(ports.Path, "needs exactly two ports, Demo:Ports:0 and Demo:Ports:1");
        }

        return given.OrderBy(p => p.Key, StringComparer.Ordinal).Select((p, i) =>
            int.TryParse(p.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
                ? DemoNode(i, port)
                : throw new ProxyConfigurationException(p.Path, $"'{p.Value}' is not a port (1-65535)")).ToArray();
    }

    private static (string Name, string Address) DemoNode(int index, int port) =>
        ($"demo-{index + 1}", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));

    // Declared before TypedKeys, which reads it as the type is initialised.
    private static readonly Regex DurationKeys = new(
        @"^Proxy:(Overload:RestoreInterval|Timeouts:Connect|Timeouts:Response|Circuit:BreakDuration|Shutdown:Drain|Limits:RequestHeadersTimeout|Limits:KeepAliveTimeout|Cluster:StableAfter|Nodes:\d+:ResolveInterval)$",
        RegexOptions.IgnoreCase);

    // The binder silently skips a list element it cannot convert (a node with Weight=heavy would
    // vanish), so typed values are checked first, each against its own key.
    private static readonly (Regex Key, Func<string, bool> IsValid, string Expected)[] TypedKeys =
    [
        (new Regex(@"^Proxy:Nodes:\d+:Weight$", RegexOptions.IgnoreCase), v => int.TryParse(v, out _), "a whole number"),
        (new Regex(@"^Proxy:Classifiers:\d+:Codes:\d+$", RegexOptions.IgnoreCase), v => int.TryParse(v, out _), "a whole number (a status or fault code)"),
        (new Regex(@"^Proxy:(Redispatch:Max|Overload:RestoreSteps|Circuit:FailureThreshold|Limits:RequestBuffer|Limits:ResponseBuffer|Limits:FaultBuffer|Limits:MinRequestBodyRate|Limits:MaxConnections)$", RegexOptions.IgnoreCase),
            v => int.TryParse(v, out _), "a whole number"),
        (new Regex(@"^Proxy:Limits:MaxRequestBody$", RegexOptions.IgnoreCase), v => long.TryParse(v, out _), "a whole number of bytes"),
        (DurationKeys, v => Duration.TryParse(v, out _), Duration.Expected),
        (new Regex(@"^Proxy:(Demo|Cluster:Enabled|Tuning:BatchScheduleSocketThreads|Nodes:\d+:ReuseConnections|Nodes:\d+:Resolve|Nodes:\d+:Tls:Insecure|AccessLog:Enabled|Tracing:Enabled)$", RegexOptions.IgnoreCase), v => bool.TryParse(v, out _), "true or false"),
        (new Regex(@"^Proxy:Cluster:Port$", RegexOptions.IgnoreCase), v => int.TryParse(v, out _), "a port number"),
    ];

    private static ProxyOptions Bind(IConfiguration configuration)
    {
        KnownKeys.Check(configuration);
        var durations = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.GetSection(ProxyOptions.Section).AsEnumerable())
        {
            if (value is null)
            {
                continue;
            }

            foreach (var (pattern, isValid, expected) in TypedKeys)
            {
                if (pattern.IsMatch(key) && !isValid(value))
                {
                    throw new ProxyConfigurationException(key, $"'{value}' is not valid: expected {expected}");
                }
            }

            // "30s" as the binder's TimeSpan reads it.
            if (DurationKeys.IsMatch(key) && Duration.TryParse(value, out var duration))
            {
                durations[key] = Duration.ToBinderForm(duration);
            }
        }

        var bound = durations.Count == 0
            ? configuration
            : new ConfigurationBuilder().AddConfiguration(configuration).AddInMemoryCollection(durations).Build();
        try
        {
            return bound.GetSection(ProxyOptions.Section).Get<ProxyOptions>() ?? new ProxyOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new ProxyConfigurationException(ProxyOptions.Section, ex.Message.ReplaceLineEndings(" "));
        }
    }

    private static AccessLogSettings CreateAccessLog(AccessLogOptions options, bool checkFile)
    {
        if (!Enum.TryParse<AccessLogFormat>(options.Format, ignoreCase: true, out var format) || int.TryParse(options.Format, out _))
        {
            throw new ProxyConfigurationException("Proxy:AccessLog:Format", $"'{options.Format}' is not a format: expected text or json");
        }

        string? path = null;
        if (options.Enabled && !string.IsNullOrWhiteSpace(options.Path))
        {
            path = Path.GetFullPath(options.Path);
            if (checkFile)
            {
                EnsureWritable(options.Path, path);
            }
        }

        return new AccessLogSettings(options.Enabled, format, path);
    }

    // Opened once here, as the log opens it, so a file the proxy may not write stops start-up, not the log.
    private static void EnsureWritable(string configured, string path)
    {
        if (Path.GetDirectoryName(path) is { } directory && !Directory.Exists(directory))
        {
            throw new ProxyConfigurationException("Proxy:AccessLog:Path", $"'{configured}': the directory {directory} does not exist");
        }

        try
        {
            using var file = Telemetry.DescriptorStream.OpenAppending(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ProxyConfigurationException("Proxy:AccessLog:Path", $"'{configured}' cannot be written: {ex.Message}");
        }
    }

    private static TracingSettings CreateTracing(TracingOptions options)
    {
        if (!double.TryParse(options.SampleRatio, NumberStyles.Float, CultureInfo.InvariantCulture, out var ratio) || !(ratio is >= 0 and <= 1))
        {
            throw new ProxyConfigurationException("Proxy:Tracing:SampleRatio", $"'{options.SampleRatio}' is not a ratio: expected a number from 0 to 1 (0.1 records one new trace in ten)");
        }

        var protocol = options.OtlpProtocol.Trim().ToLowerInvariant() switch
        {
            "http/protobuf" or "http" => OtlpProtocol.HttpProtobuf,
            "grpc" => OtlpProtocol.Grpc,
            _ => throw new ProxyConfigurationException("Proxy:Tracing:OtlpProtocol", $"'{options.OtlpProtocol}' is not an OTLP protocol: expected http/protobuf or grpc"),
        };

        if (string.IsNullOrWhiteSpace(options.ServiceName))
        {
            throw new ProxyConfigurationException("Proxy:Tracing:ServiceName", "must not be empty");
        }

        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint))
        {
            if (!Uri.TryCreate(options.OtlpEndpoint.Trim(), UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https") || !string.IsNullOrEmpty(endpoint.UserInfo))
            {
                throw new ProxyConfigurationException("Proxy:Tracing:OtlpEndpoint", $"'{options.OtlpEndpoint}' is not an http:// or https:// URL of an OTLP collector (e.g. http://otel-collector:4318)");
            }

            // OTLP/HTTP posts to /v1/traces; a collector named by its origin alone means that path.
            if (protocol == OtlpProtocol.HttpProtobuf && endpoint.AbsolutePath == "/")
            {
                endpoint = new Uri(endpoint, "/v1/traces");
            }

            if (!options.Enabled)
            {
                throw new ProxyConfigurationException("Proxy:Tracing:OtlpEndpoint", "is set while Proxy:Tracing:Enabled is false: spans need the trace context; turn tracing on or leave the endpoint unset");
            }
        }

        return new TracingSettings(options.Enabled, endpoint, protocol, ratio, options.ServiceName.Trim());
    }

    private static ClusterSettings? CreateCluster(ClusterOptions options, TimeSpan markLifetime, List<string> warnings)
    {
        if (!options.Enabled)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(options.Host))
        {
            throw new ProxyConfigurationException("Proxy:Cluster:Host", "is required when the cluster is enabled");
        }

        InRange("Proxy:Cluster:Port", options.Port, 1, 65535);
        Positive("Proxy:Cluster:StableAfter", options.StableAfter);
        for (var i = 0; i < options.Seeds.Count; i++)
        {
            var seed = options.Seeds[i];
            // akka.ssl.tcp:// too: what /debug/cluster shows when the members speak TLS (either means the same member).
            if (!Uri.TryCreate(seed, UriKind.Absolute, out var uri) || uri.Scheme is not ("akka.tcp" or "akka.ssl.tcp") || uri.UserInfo != "proxy" || uri.Port <= 0)
            {
                throw new ProxyConfigurationException($"Proxy:Cluster:Seeds:{i}", $"'{seed}' is not a seed address: expected akka.tcp://proxy@host:port (or akka.ssl.tcp://proxy@host:port)");
            }
        }

        var dnsName = string.IsNullOrWhiteSpace(options.DnsName) ? null : options.DnsName.Trim();
        if (dnsName is not null && Uri.CheckHostName(dnsName) != UriHostNameType.Dns)
        {
            throw new ProxyConfigurationException("Proxy:Cluster:DnsName", $"'{options.DnsName}' is not a DNS name");
        }

        return new ClusterSettings(options.Host, options.Port, options.Seeds, options.StableAfter, markLifetime, dnsName, ValidateClusterTls(options.Tls, warnings));
    }

    // The files are read once here, so a bad one stops start-up; each membership incarnation reads them again.
    private static ClusterTlsSettings? ValidateClusterTls(ClusterTlsOptions? tls, List<string> warnings)
    {
        var certificateFile = string.IsNullOrWhiteSpace(tls?.CertificateFile) ? null : Path.GetFullPath(tls.CertificateFile);
        var keyFile = string.IsNullOrWhiteSpace(tls?.KeyFile) ? null : Path.GetFullPath(tls.KeyFile);
        var caFile = string.IsNullOrWhiteSpace(tls?.CaFile) ? null : Path.GetFullPath(tls.CaFile);
        if (certificateFile is null && keyFile is null && caFile is null)
        {
            return null;
        }

        if (certificateFile is null)
        {
            throw new ProxyConfigurationException("Proxy:Cluster:Tls:CertificateFile", "is required for TLS between the members: this member's certificate (PEM)");
        }

        if (caFile is null)
        {
            throw new ProxyConfigurationException("Proxy:Cluster:Tls:CaFile", "is required for TLS between the members: the CA (PEM) the members' certificates chain to");
        }

        var certificate = LoadCertificate(certificateFile, keyFile, "Proxy:Cluster:Tls:CertificateFile", "Proxy:Cluster:Tls:KeyFile");
        if (ValidityProblem(certificate.Leaf) is { } problem)
        {
            warnings.Add($"Proxy:Cluster:Tls:CertificateFile: the certificate {problem}; the other members will refuse it");
        }

        LoadBundle(caFile, "Proxy:Cluster:Tls:CaFile");
        return new ClusterTlsSettings(certificateFile, keyFile, caFile);
    }

    private static bool IsLoopback(BindingAddress address) =>
        string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));

    private static BindingAddress ParseListen(string key, string url)
    {
        BindingAddress address;
        try
        {
            address = BindingAddress.Parse(url);
        }
        catch (FormatException ex)
        {
            throw new ProxyConfigurationException(key, $"'{url}' is not a valid URL: {ex.Message}");
        }

        if (address.IsUnixPipe || address.Scheme.ToLowerInvariant() is not ("http" or "https") || string.IsNullOrEmpty(address.Host))
        {
            throw new ProxyConfigurationException(key, $"'{url}' is not supported: expected http://host:port or https://host:port");
        }

        if (address.Port is < 0 or > 65535)
        {
            throw new ProxyConfigurationException(key, $"'{url}' has an invalid port");
        }

        return address;
    }

    // The certificate every https:// listener shows, read once here so a bad file stops start-up.
    private static ListenerTlsSettings? CreateListenerTls(TlsOptions tls, IEnumerable<BindingAddress> listeners, List<string> warnings)
    {
        var certificateFile = string.IsNullOrWhiteSpace(tls.CertificateFile) ? null : Path.GetFullPath(tls.CertificateFile);
        var keyFile = string.IsNullOrWhiteSpace(tls.KeyFile) ? null : Path.GetFullPath(tls.KeyFile);
        var https = listeners.FirstOrDefault(l => string.Equals(l.Scheme, "https", StringComparison.OrdinalIgnoreCase));
        if (https is null)
        {
            if (certificateFile is not null || keyFile is not null)
            {
                warnings.Add("Proxy:Tls is set, but no listener is https://: the certificate is not used");
            }

            return null;
        }

        if (certificateFile is null)
        {
            throw new ProxyConfigurationException("Proxy:Tls:CertificateFile", $"is required for the listener {https}: a PEM certificate (Proxy:Tls:KeyFile its key)");
        }

        var loaded = LoadCertificate(certificateFile, keyFile, "Proxy:Tls:CertificateFile", "Proxy:Tls:KeyFile");
        if (ValidityProblem(loaded.Leaf) is { } problem)
        {
            warnings.Add($"Proxy:Tls:CertificateFile: the certificate {problem}; clients will refuse it");
        }

        return new ListenerTlsSettings(certificateFile, keyFile);
    }

    private static string? ValidityProblem(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate)
    {
        var now = DateTime.Now;
        return certificate.NotAfter < now ? $"{certificate.Subject} expired {certificate.NotAfter.ToUniversalTime():u}"
            : certificate.NotBefore > now ? $"{certificate.Subject} is not valid before {certificate.NotBefore.ToUniversalTime():u}"
            : null;
    }

    private static CertificateWithChain LoadCertificate(string certificateFile, string? keyFile, string certificateKey, string keyKey)
    {
        try
        {
            return PemFiles.LoadCertificate(certificateFile, keyFile);
        }
        catch (PemFileException ex)
        {
            throw new ProxyConfigurationException(ex.AboutKey && keyFile is not null ? keyKey : certificateKey, ex.Message);
        }
    }

    private static void LoadBundle(string caFile, string key)
    {
        try
        {
            PemFiles.LoadBundle(caFile);
        }
        catch (PemFileException ex)
        {
            throw new ProxyConfigurationException(key, ex.Message);
        }
    }

    // An https:// node's verification: the files are read once here, so a bad one stops start-up.
    private static NodeTlsSettings? ValidateNodeTls(NodeOptions node, NodeAddress address, string prefix, List<string>? warnings)
    {
        if (node.Tls is not { } tls)
        {
            return null;
        }

        var caFile = string.IsNullOrWhiteSpace(tls.CaFile) ? null : Path.GetFullPath(tls.CaFile);
        var serverName = string.IsNullOrWhiteSpace(tls.ServerName) ? null : tls.ServerName.Trim();
        var clientFile = string.IsNullOrWhiteSpace(tls.ClientCertificateFile) ? null : Path.GetFullPath(tls.ClientCertificateFile);
        var clientKey = string.IsNullOrWhiteSpace(tls.ClientKeyFile) ? null : Path.GetFullPath(tls.ClientKeyFile);
        if (caFile is null && serverName is null && clientFile is null && clientKey is null && !tls.Insecure)
        {
            return null;
        }

        if (!address.IsHttps)
        {
            throw new ProxyConfigurationException($"{prefix}:Tls", $"applies to https:// nodes only; '{address}' is not one");
        }

        if (tls.Insecure && caFile is not null)
        {
            throw new ProxyConfigurationException($"{prefix}:Tls:Insecure", "contradicts Tls:CaFile: verify against the CA file, or not at all");
        }

        if (clientKey is not null && clientFile is null)
        {
            throw new ProxyConfigurationException($"{prefix}:Tls:ClientKeyFile", "needs Tls:ClientCertificateFile, the certificate it is the key of");
        }

        if (serverName is not null && (serverName.Length > 253 || Uri.CheckHostName(serverName) is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6)))
        {
            throw new ProxyConfigurationException($"{prefix}:Tls:ServerName", $"'{serverName}' is not a host name");
        }

        if (caFile is not null)
        {
            LoadBundle(caFile, $"{prefix}:Tls:CaFile");
        }

        if (clientFile is not null)
        {
            var client = LoadCertificate(clientFile, clientKey, $"{prefix}:Tls:ClientCertificateFile", $"{prefix}:Tls:ClientKeyFile");
            if (ValidityProblem(client.Leaf) is { } problem)
            {
                warnings?.Add($"{prefix}:Tls:ClientCertificateFile: the certificate {problem}; the node will refuse it");
            }
        }

        if (tls.Insecure)
        {
            warnings?.Add($"{prefix}:Tls:Insecure is true: the certificate of node {node.Name} is not verified, so anyone on the path to {address} can pose as it");
        }

        return new NodeTlsSettings(caFile, serverName, clientFile, clientKey, tls.Insecure);
    }

    private static List<NodeSettings> ValidateNodes(List<NodeOptions> nodes, List<string> warnings, IReadOnlyList<BindingAddress> listen)
    {
        if (nodes.Count == 0)
        {
            throw new ProxyConfigurationException("Proxy:Nodes", "at least one node is required (Proxy:Nodes:0:Name and Proxy:Nodes:0:Address), or run with --demo");
        }

        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var result = new List<NodeSettings>(nodes.Count);
        for (var i = 0; i < nodes.Count; i++)
        {
            var node = nodes[i];
            var prefix = $"Proxy:Nodes:{i}";
            var settings = ValidateNode(node, prefix, warnings, listen);
            if (seen.TryGetValue(settings.Name, out var first))
            {
                throw new ProxyConfigurationException($"{prefix}:Name", $"duplicate node name '{settings.Name}' (also Proxy:Nodes:{first}:Name)");
            }

            seen[settings.Name] = i;
            result.Add(settings);
        }

        return result;
    }

    // \z, not $: .NET's $ also matches before a final newline, and "n1\n" passed, then broke the
    // node's actor name (the node supervisor crashed). 1 to 128 characters.
    private const string NamePattern = @"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z";

    /// <summary>
    /// One node's settings, checked as at start-up (also for a node added at run time); <paramref name="prefix"/> names it in errors.
    /// A node at one of <paramref name="listen"/>, the proxy's own client listeners, is refused.
    /// </summary>
    public static NodeSettings ValidateNode(NodeOptions node, string prefix, List<string>? warnings = null, IReadOnlyList<BindingAddress>? listen = null)
    {
        if (string.IsNullOrWhiteSpace(node.Name))
        {
            throw new ProxyConfigurationException($"{prefix}:Name", "is required");
        }

        if (!Regex.IsMatch(node.Name, NamePattern))
        {
            throw new ProxyConfigurationException($"{prefix}:Name", $"'{node.Name}' may hold only letters, digits, '.', '_' and '-' (at most 128)");
        }

        if (!NodeAddress.TryParse(node.Address, out var address, out var error))
        {
            throw new ProxyConfigurationException($"{prefix}:Address", error);
        }

        if (listen?.FirstOrDefault(l => IsSelf(address!, l)) is { } self)
        {
            // Every try would come back as a new request and be forwarded again: a loop that opens
            // sockets until the timeouts end it (one request made 3,000 tries in 3 s).
            throw new ProxyConfigurationException($"{prefix}:Address", $"'{node.Address}' is this proxy's own listener ({self}): a node there would forward every request back to itself");
        }

        InRange($"{prefix}:Weight", node.Weight, MinWeight, MaxWeight);
        return new NodeSettings(node.Name, address!, node.Weight, node.ReuseConnections, ValidateNodeTls(node, address!, prefix, warnings));
    }

    // The node is reached at a listener of this proxy: the same port on the listener's own host,
    // or, for a wildcard listener, on any address of this machine (loopback, localhost, its own
    // host name, an interface's). Another name that DNS resolves here is not looked up.
    private static bool IsSelf(NodeAddress node, BindingAddress listener)
    {
        if (node.UnixSocketPath is not null)
        {
            return false; // Client listeners are TCP.
        }

        var uri = new Uri(node.Original);
        if (uri.Port != listener.Port)
        {
            return false;
        }

        var host = uri.IdnHost.Trim('[', ']');
        var listenerHost = listener.Host.Trim('[', ']');
        if (string.Equals(host, listenerHost, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        // localhost is 127.0.0.1 and ::1, as Kestrel binds it.
        var wildcard = listenerHost is "*" or "+" or "0.0.0.0" or "::";
        var listenerIsLocalhost = string.Equals(listenerHost, "localhost", StringComparison.OrdinalIgnoreCase);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return wildcard || listenerHost is "127.0.0.1" or "::1";
        }

        if (string.Equals(host, System.Net.Dns.GetHostName(), StringComparison.OrdinalIgnoreCase))
        {
            // This machine's own name (/etc/hosts maps it to a loopback or an interface address).
            return wildcard || listenerIsLocalhost
                || (System.Net.IPAddress.TryParse(listenerHost, out var own) && (System.Net.IPAddress.IsLoopback(own) || LocalAddresses().Contains(own)));
        }

        if (!System.Net.IPAddress.TryParse(host, out var ip))
        {
            return false;
        }

        ip = ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
        if (listenerIsLocalhost)
        {
            return ip.Equals(System.Net.IPAddress.Loopback) || ip.Equals(System.Net.IPAddress.IPv6Loopback);
        }

        if (!wildcard && System.Net.IPAddress.TryParse(listenerHost, out var bound))
        {
            return ip.Equals(bound.IsIPv4MappedToIPv6 ? bound.MapToIPv4() : bound);
        }

        return wildcard && (System.Net.IPAddress.IsLoopback(ip) || LocalAddresses().Contains(ip));
    }

    private static HashSet<System.Net.IPAddress> LocalAddresses()
    {
        try
        {
            return System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(i => i.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .ToHashSet();
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
            return [];
        }
    }

    private static IReadOnlyList<ClassifierSpec> CreateClassifiers(IConfigurationSection section, ClassifierTypes types, List<string> warnings)
    {
        var entries = section.GetChildren().OrderBy(c => int.TryParse(c.Key, out var i) ? i : int.MaxValue).ToArray();
        if (entries.Length == 0)
        {
            return ClassifierSpec.DefaultChain;
        }

        var result = new List<ClassifierSpec>(entries.Length);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in entries)
        {
            var prefix = entry.Path;
            var name = entry["Name"];
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ProxyConfigurationException($"{prefix}:Name", "is required");
            }

            if (!Regex.IsMatch(name, NamePattern))
            {
                throw new ProxyConfigurationException($"{prefix}:Name", $"'{name}' may hold only letters, digits, '.', '_' and '-' (at most 128)");
            }

            if (!seen.Add(name))
            {
                throw new ProxyConfigurationException($"{prefix}:Name", $"duplicate classifier name '{name}'");
            }

            var verdictText = entry["Verdict"];
            if (!Enum.TryParse<Verdict>(verdictText, ignoreCase: true, out var verdict) || verdict == Verdict.Deliver || int.TryParse(verdictText, out _))
            {
                throw new ProxyConfigurationException($"{prefix}:Verdict", $"'{verdictText}' is not a verdict: expected Overloaded or Failed");
            }

            var type = entry["Type"];
            if (string.IsNullOrWhiteSpace(type) || !types.Contains(type))
            {
                throw new ProxyConfigurationException($"{prefix}:Type", $"'{type}' is not a classifier type: expected one of {string.Join(", ", types.Names)}");
            }

            var rule = new ClassifierConfiguration(name, verdict, entry);
            try
            {
                types.CheckSettings(type, entry);
                result.Add(types.Create(type, rule));
            }
            catch (ClassifierConfigurationException ex)
            {
                throw new ProxyConfigurationException(ex.Key, ex.Problem);
            }
            warnings.AddRange(rule.Warnings);
        }

        return result;
    }

    private static void Positive(string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ProxyConfigurationException(key, $"must be a positive duration such as 00:00:05 (was {value})");
        }
    }

    private static void InRange(string key, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            throw new ProxyConfigurationException(key, max == int.MaxValue
                ? $"must be at least {min} (was {value})"
                : $"must be between {min} and {max} (was {value})");
        }
    }
}

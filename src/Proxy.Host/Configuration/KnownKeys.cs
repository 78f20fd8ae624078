using System.Text.RegularExpressions;

namespace Proxy.Host.Configuration;

/// <summary>
/// Every key the <c>Proxy</c> section may hold. A key outside it (a typo such as
/// <c>Proxy:Overload:RestoreIntervall</c>) stops start-up naming it, with the nearest known key,
/// as HAProxy refuses an unknown keyword: silently running on a default is worse than not starting.
/// </summary>
internal static partial class KnownKeys
{
    // Per-entry keys of a classifier depend on its type (built-in or registered): the type's
    // factory reads and validates its own.
    private static readonly string[] Keys =
    [
        "Proxy:Listen",
        "Proxy:Debug:Listen", "Proxy:Debug:Token",
        "Proxy:Nodes:N:Name", "Proxy:Nodes:N:Address", "Proxy:Nodes:N:Weight", "Proxy:Nodes:N:ReuseConnections", "Proxy:Nodes:N:Resolve", "Proxy:Nodes:N:ResolveInterval",
        "Proxy:Nodes:N:Tls:CaFile", "Proxy:Nodes:N:Tls:ServerName", "Proxy:Nodes:N:Tls:ClientCertificateFile", "Proxy:Nodes:N:Tls:ClientKeyFile", "Proxy:Nodes:N:Tls:Insecure",
        "Proxy:Tls:CertificateFile", "Proxy:Tls:KeyFile",
        "Proxy:Redispatch:Max",
        "Proxy:Overload:RestoreInterval", "Proxy:Overload:RestoreSteps",
        "Proxy:Timeouts:Connect", "Proxy:Timeouts:Response",
        "Proxy:Circuit:FailureThreshold", "Proxy:Circuit:BreakDuration",
        "Proxy:Limits:RequestBuffer", "Proxy:Limits:ResponseBuffer", "Proxy:Limits:FaultBuffer", "Proxy:Limits:MaxRequestBody",
        "Proxy:Limits:RequestHeadersTimeout", "Proxy:Limits:MinRequestBodyRate", "Proxy:Limits:KeepAliveTimeout", "Proxy:Limits:MaxConnections",
        "Proxy:Forwarding:TrustedProxies:N",
        "Proxy:Shutdown:Drain",
        "Proxy:Cluster:Enabled", "Proxy:Cluster:Host", "Proxy:Cluster:Port", "Proxy:Cluster:Seeds:N", "Proxy:Cluster:StableAfter", "Proxy:Cluster:DnsName",
        "Proxy:Cluster:Tls:CertificateFile", "Proxy:Cluster:Tls:KeyFile", "Proxy:Cluster:Tls:CaFile",
        "Proxy:Tuning:BatchScheduleSocketThreads",
        "Proxy:AccessLog:Enabled", "Proxy:AccessLog:Format", "Proxy:AccessLog:Path",
        "Proxy:Tracing:Enabled", "Proxy:Tracing:OtlpEndpoint", "Proxy:Tracing:OtlpProtocol", "Proxy:Tracing:SampleRatio", "Proxy:Tracing:ServiceName",
        "Proxy:Demo",
        "Proxy:Plugins:N",
    ];

    private static readonly HashSet<string> Known = new(Keys, StringComparer.OrdinalIgnoreCase);

    /// <summary>Throws for the first key under <c>Proxy</c> that is not one of them, or a section named almost <c>Proxy</c>.</summary>
    public static void Check(IConfiguration configuration)
    {
        // "Proxi:Listen" would be ignored whole; a section of settings named one or two letters
        // off is taken for a typo (a plain value such as an environment variable is not a section).
        foreach (var section in configuration.GetChildren())
        {
            var distance = Distance(section.Key, ProxyOptions.Section);
            if (distance is > 0 and <= 2 && section.GetChildren().Any())
            {
                throw new ProxyConfigurationException(section.Key, $"is not a configuration section; did you mean {ProxyOptions.Section}?");
            }
        }
        foreach (var (key, value) in configuration.GetSection(ProxyOptions.Section).AsEnumerable())
        {
            if (value is null || key.Equals(ProxyOptions.Section, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var shape = Index().Replace(key, ":N");
            if (Known.Contains(shape) || ClassifierSetting().IsMatch(key))
            {
                continue;
            }

            // An empty JSON array ("Nodes": []) arrives as the list's own key with an empty value.
            if (value.Length == 0 && shape.Equals(ProxyOptions.Section + ":Classifiers", StringComparison.OrdinalIgnoreCase))
            {
                throw new ProxyConfigurationException(key, "is an empty list: leave it out for the default rule (xmlrpc-overload), or give at least one rule");
            }

            if (value.Length == 0 && Keys.Any(k => k.StartsWith(shape + ":N:", StringComparison.OrdinalIgnoreCase)))
            {
                continue; // "Nodes": [] is no nodes, which the settings then refuse by name.
            }

            var nearest = Keys.MinBy(k => Distance(k, shape))!;
            var hint = Distance(nearest, shape) <= 3 ? $"; did you mean {Placeholder().Replace(nearest, ":" + FirstIndex(key))}?" : "";
            throw new ProxyConfigurationException(key, $"is not a setting{hint}");
        }
    }

    private static string FirstIndex(string key) => Index().Match(key) is { Success: true } m ? m.Value[1..] : "0";

    // Edit distance, case-insensitive: small strings, start-up only.
    internal static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var same = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]);
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (same ? 0 : 1));
            }

            previous = current;
        }

        return previous[b.Length];
    }

    [GeneratedRegex(@":\d+(?=:|$)")]
    private static partial Regex Index();

    [GeneratedRegex(":N(?=:|$)")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^Proxy:Classifiers:\d+:.+$", RegexOptions.IgnoreCase)]
    private static partial Regex ClassifierSetting();
}

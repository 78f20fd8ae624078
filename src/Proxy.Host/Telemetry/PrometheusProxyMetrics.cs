using System.Collections.Concurrent;
using System.Globalization;
using Prometheus;
using Proxy.Actors.Telemetry;

namespace Proxy.Host.Telemetry;

/// <summary>
/// The proxy's Prometheus metrics, in a registry of its own (so two hosts in one process, as in
/// the tests, never mix their counts), exported as text on the debug listener's <c>/metrics</c>.
/// </summary>
public sealed class PrometheusProxyMetrics : IProxyMetrics
{
    private static readonly string[] StatusNames = Enumerable.Range(0, 600).Select(s => s.ToString(CultureInfo.InvariantCulture)).ToArray();

    private readonly Counter _tries;
    private readonly Histogram _upstreamSeconds;
    private readonly Counter _marks;
    private readonly Gauge _weight;
    private readonly Gauge _inFlight;
    private readonly Counter _requests;
    private readonly Histogram _requestSeconds;
    private readonly Counter _redispatches;
    private readonly ConcurrentDictionary<string, NodeInstruments> _nodes = new();
    private readonly ConcurrentDictionary<(string Node, string Verdict, int Status), Counter.Child> _triesByLabels = new();
    private readonly ConcurrentDictionary<int, Counter.Child> _requestsByStatus = new();

    public PrometheusProxyMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);

        // No exemplars: the proxy starts no trace per request, so looking one up on every
        // observation (four per request) found nothing and cost time on the hot path.
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = static (_, _) => Exemplar.None };
        var latencyBuckets = Histogram.ExponentialBuckets(0.0005, 2, 16);
        _tries = factory.CreateCounter("proxy_node_requests_total", "Tries sent to a node, by how they ended and the node's HTTP status (0: none).", "node", "verdict", "status");
        _upstreamSeconds = factory.CreateHistogram("proxy_node_upstream_duration_seconds", "Time from sending a try to its verdict.", new HistogramConfiguration { LabelNames = ["node"], Buckets = latencyBuckets });
        _marks = factory.CreateCounter("proxy_overload_marks_total", "Times a node was marked overloaded.", "node");
        _weight = factory.CreateGauge("proxy_node_weight", "A node's effective weight (0: out of rotation).", "node");
        _inFlight = factory.CreateGauge("proxy_node_in_flight", "Tries in flight at a node.", "node");
        _requests = factory.CreateCounter("proxy_requests_total", "Client requests answered, by status.", "status");
        _requestSeconds = factory.CreateHistogram("proxy_request_duration_seconds", "Time from a client request to its answer's head.", new HistogramConfiguration { Buckets = latencyBuckets });
        _redispatches = factory.CreateCounter("proxy_redispatches_total", "Tries sent to a sibling after an overloaded or failed try.");
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Exports <c>proxy_access_log_dropped_total</c>: access-log lines dropped because the writer could not keep up.</summary>
    public void TrackAccessLogDrops(Func<long> dropped)
    {
        var counter = Metrics.WithCustomRegistry(Registry).CreateCounter("proxy_access_log_dropped_total", "Access-log lines dropped because their destination could not keep up or be written.");
        Registry.AddBeforeCollectCallback(() => counter.IncTo(dropped()));
    }

    /// <summary>Exports <c>proxy_connections_refused_total</c>: client connections closed on accept by <c>Proxy:Limits:MaxConnections</c>.</summary>
    public void TrackConnectionsRefused(Func<long> refused)
    {
        var counter = Metrics.WithCustomRegistry(Registry).CreateCounter("proxy_connections_refused_total", "Client connections closed as soon as accepted: Proxy:Limits:MaxConnections were open.");
        Registry.AddBeforeCollectCallback(() => counter.IncTo(refused()));
    }

    /// <summary>Exports <c>proxy_cluster_members</c> (members this one sees up and reachable), read at each scrape.</summary>
    public void TrackClusterMembers(Func<int> members)
    {
        var gauge = Metrics.WithCustomRegistry(Registry).CreateGauge("proxy_cluster_members", "Members of the proxy cluster this member sees up and reachable (0 while it is rejoining).");
        Registry.AddBeforeCollectCallback(() => gauge.Set(members()));
    }

    public void TryCompleted(string node, string verdict, int status, TimeSpan upstream)
    {
        _triesByLabels.GetOrAdd((node, verdict, status), static (key, tries) => tries.WithLabels(key.Node, key.Verdict, Status(key.Status)), _tries).Inc();
        Node(node).UpstreamSeconds.Observe(upstream.TotalSeconds);
    }

    public void Marked(string node) => Node(node).Marks.Inc();

    public void WeightChanged(string node, int weight) => Node(node).Weight.Set(weight);

    public void InFlightChanged(string node, int inFlight) => Node(node).InFlight.Set(inFlight);

    /// <summary>Tries in flight at all the nodes, as <c>proxy_node_in_flight</c> last said.</summary>
    public int TriesInFlight => (int)_nodes.Values.Sum(n => n.InFlight.Value);

    // A node removed at run time: its series go, so dashboards do not show it frozen at its last value.
    public void NodeRemoved(string node)
    {
        if (_nodes.TryRemove(node, out var instruments))
        {
            instruments.UpstreamSeconds.Remove();
            instruments.Marks.Remove();
            instruments.Weight.Remove();
            instruments.InFlight.Remove();
        }

        foreach (var key in _triesByLabels.Keys.Where(k => string.Equals(k.Node, node, StringComparison.Ordinal)).ToArray())
        {
            if (_triesByLabels.TryRemove(key, out var tries))
            {
                tries.Remove();
            }
        }
    }

    public void RequestCompleted(int status, int tries, TimeSpan duration)
    {
        _requestsByStatus.GetOrAdd(status, static (code, requests) => requests.WithLabels(Status(code)), _requests).Inc();
        _requestSeconds.Observe(duration.TotalSeconds);
        if (tries > 1)
        {
            _redispatches.Inc(tries - 1);
        }
    }

    // Labelled children are looked up once: WithLabels allocates and hashes on every call, and
    // these are called several times per request.
    private NodeInstruments Node(string node) => _nodes.GetOrAdd(node, static (name, metrics) => new NodeInstruments(
        metrics._upstreamSeconds.WithLabels(name), metrics._marks.WithLabels(name), metrics._weight.WithLabels(name), metrics._inFlight.WithLabels(name)), this);

    public Task WriteAsync(Stream output, CancellationToken cancellationToken) => Registry.CollectAndExportAsTextAsync(output, cancellationToken);

    private static string Status(int status) => (uint)status < StatusNames.Length ? StatusNames[status] : status.ToString(CultureInfo.InvariantCulture);

    private sealed record NodeInstruments(Histogram.Child UpstreamSeconds, Counter.Child Marks, Gauge.Child Weight, Gauge.Child InFlight);
}

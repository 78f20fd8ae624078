namespace Proxy.Actors.Telemetry;

/// <summary>
/// What the actors report for <c>/metrics</c>. The host implements it (Prometheus); actors call it
/// from their own message handlers, so an implementation must be thread-safe and cheap.
/// </summary>
public interface IProxyMetrics
{
    /// <summary>One try at a node ended: verdict (answered, overloaded, failed-…), the node's status (0 when none) and its duration.</summary>
    void TryCompleted(string node, string verdict, int status, TimeSpan upstream);

    /// <summary>A node was marked overloaded.</summary>
    void Marked(string node);

    /// <summary>A node's effective weight changed.</summary>
    void WeightChanged(string node, int weight);

    /// <summary>A node's in-flight count changed.</summary>
    void InFlightChanged(string node, int inFlight);

    /// <summary>A node was added at run time.</summary>
    void NodeAdded(string node)
    {
    }

    /// <summary>A node removed at run time has stopped: its series are no longer exported.</summary>
    void NodeRemoved(string node)
    {
    }
}

/// <summary>Metrics that go nowhere (tests, tools).</summary>
public sealed class NullProxyMetrics : IProxyMetrics
{
    public static NullProxyMetrics Instance { get; } = new();

    public void TryCompleted(string node, string verdict, int status, TimeSpan upstream)
    {
    }

    public void Marked(string node)
    {
    }

    public void WeightChanged(string node, int weight)
    {
    }

    public void InFlightChanged(string node, int inFlight)
    {
    }
}

using Proxy.Actors.Nodes;

namespace Proxy.Actors.Clustering;

/// <summary>
/// An operator's change of the node set, as the cluster shares it (ADR 0015): the node as added
/// (address, weight), or its removal; stamped like a <see cref="NodeMark"/> with when, where and by
/// which process run, so the last word wins and a restarted member adopts its previous run's.
/// </summary>
public sealed record TopologyEntry(string Name, string? Address, int Weight, bool ReuseConnections, bool Removed, long AtUnixMs, string Member, string Writer, NodeTlsSettings? Tls = null)
{
    public static TopologyEntry Added(NodeSettings node) =>
        new(node.Name, node.Address.Original, node.Weight, node.ReuseConnections, false, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "", "", node.Tls);

    public static TopologyEntry RemovedNow(string name) =>
        new(name, null, 0, true, true, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "", "");

    /// <summary>The node this entry adds, or null when it removes one or its address no longer parses.</summary>
    /// <remarks>A method, not a property: what crosses the network is the fields <see cref="ClusterMessageSerializer"/> writes.</remarks>
    public NodeSettings? ToNode() =>
        !Removed && NodeAddress.TryParse(Address, out var address, out _) ? new NodeSettings(Name, address!, Weight, ReuseConnections, Tls) : null;

    public bool Supersedes(TopologyEntry? known) =>
        known is null || AtUnixMs > known.AtUnixMs || (AtUnixMs == known.AtUnixMs && this != known);
}

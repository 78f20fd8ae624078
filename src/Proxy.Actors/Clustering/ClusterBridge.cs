using Akka.Actor;
using Akka.Event;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Nodes;

namespace Proxy.Actors.Clustering;

/// <summary>
/// The serving system's side of the cluster (ADR 0014). NodeActors tell it what they learn; it
/// remembers the latest mark of every node and subject, hands marks to the current membership
/// incarnation's <see cref="NodeHealthReplicator"/> and, when a new incarnation comes up, writes them
/// all again, so what this side learnt or decided while cut off is not lost with the old incarnation.
/// Marks from the map reach the NodeActors only when they are new here: an incarnation that restarts
/// and reads the same map again changes nothing.
/// </summary>
public sealed class ClusterBridge : ReceiveActor
{
    private readonly string _writer;
    private readonly string _nodesPath;
    private IReadOnlySet<string> _nodes;
    private readonly TimeSpan _markLifetime;
    private readonly Dictionary<(string Node, NodeMarkSubject Subject), NodeMark> _latest = [];
    private readonly Dictionary<string, TopologyEntry> _topology = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef? _replicator;
    private string _member = "";

    /// <param name="writer">This process run's identity, stamped on every mark it makes.</param>
    /// <param name="nodes">The configured node names.</param>
    /// <param name="nodesPath">Where their NodeActors live (e.g. <c>/user/nodes</c>); marks are rare, so they go by selection.</param>
    /// <param name="markLifetime">How old an overload or circuit mark may be and still matter to a member that only now hears of it.</param>
    public ClusterBridge(string writer, IReadOnlySet<string> nodes, string nodesPath, TimeSpan markLifetime)
    {
        _writer = writer;
        _nodes = nodes;
        _nodesPath = nodesPath.TrimEnd('/') + "/";
        _markLifetime = markLifetime;

        Receive<Observed>(o =>
        {
            // What happens here now is the latest word on its subject, even over a mark dated
            // ahead by another member's fast clock (or forged): it is stamped just after it.
            var key = (o.Node, o.Mark.Subject);
            var at = _latest.TryGetValue(key, out var known) ? Math.Max(o.Mark.AtUnixMs, After(known.AtUnixMs)) : o.Mark.AtUnixMs;
            var mark = o.Mark with { Writer = _writer, Member = _member, AtUnixMs = at };
            _latest[key] = mark;
            _replicator?.Tell(new NodeHealthReplicator.Share(o.Node, mark));
        });
        Receive<MembershipUp>(up =>
        {
            _replicator = up.Replicator;
            _member = up.Member;
            foreach (var ((node, _), mark) in _latest)
            {
                _replicator.Tell(new NodeHealthReplicator.Share(node, mark));
            }

            foreach (var entry in _topology.Values)
            {
                _replicator.Tell(new NodeHealthReplicator.ShareTopology(entry));
            }
        });
        Receive<MembershipDown>(down =>
        {
            if (Equals(down.Replicator, _replicator))
            {
                _replicator = null;
            }
        });
        Receive<Replicated>(r => Adopt(r.Marks));
        Receive<TopologyObserved>(o =>
        {
            var at = _topology.TryGetValue(o.Entry.Name, out var known) ? Math.Max(o.Entry.AtUnixMs, After(known.AtUnixMs)) : o.Entry.AtUnixMs;
            var entry = o.Entry with { Writer = _writer, Member = _member, AtUnixMs = at };
            _topology[entry.Name] = entry;
            _replicator?.Tell(new NodeHealthReplicator.ShareTopology(entry));
        });
        Receive<ReplicatedTopology>(r => AdoptTopology(r.Entries));
        Receive<NodeSupervisor.NodeAdded>(_ => { });
        Receive<NodeSupervisor.NodeRemoved>(_ => { });
        Receive<NodeSupervisor.NodeChangeRefused>(r => _log.Debug("Shared node change not applied here: {0}", r.Message));
        Receive<NodesChanged>(c => _nodes = c.Nodes);
        Receive<DescribeActor>(_ => Sender.Tell(new ActorDescription(
            nameof(ClusterBridge),
            $"member={(_replicator is null ? "none" : _member)} marks={_latest.Count}",
            [])));
    }

    public static Props Props(string writer, IReadOnlySet<string> nodes, string nodesPath, TimeSpan markLifetime) =>
        Akka.Actor.Props.Create(() => new ClusterBridge(writer, nodes, nodesPath, markLifetime));

    // The millisecond after another mark's; a forged one at the end of time is not wrapped into the past.
    private static long After(long at) => at == long.MaxValue ? at : at + 1;

    // Another member's operator added or removed a node (or this process's previous run did).
    private void AdoptTopology(IReadOnlyList<TopologyEntry> entries)
    {
        var supervisor = Context.ActorSelection(_nodesPath.TrimEnd('/'));
        foreach (var entry in entries.OrderBy(e => e.AtUnixMs))
        {
            _topology.TryGetValue(entry.Name, out var known);
            if (!entry.Supersedes(known))
            {
                continue;
            }

            _topology[entry.Name] = entry;
            if (entry.Writer == _writer)
            {
                continue;
            }

            if (entry.Removed)
            {
                _log.Info("Node {0} removed by an operator at {1}", entry.Name, entry.Member);
                supervisor.Tell(new NodeSupervisor.RemoveNode(entry.Name, NodeChangeSource.Cluster));
            }
            else if (entry.ToNode() is { } node)
            {
                _log.Info("Node {0} added by an operator at {1}", entry.Name, entry.Member);
                supervisor.Tell(new NodeSupervisor.AddNode(node, NodeChangeSource.Cluster));
            }
        }
    }

    private void Adopt(IReadOnlyList<ReplicatedMark> marks)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Operator decisions first, so an overload mark of the same batch meets the drain it must respect.
        foreach (var (node, mark) in marks.OrderBy(m => m.Mark.Subject == NodeMarkSubject.Health))
        {
            if (!_nodes.Contains(node))
            {
                continue;
            }

            var key = (node, mark.Subject);
            _latest.TryGetValue(key, out var known);
            if (!mark.Supersedes(known))
            {
                continue;
            }

            _latest[key] = mark;
            if (mark.Writer == _writer)
            {
                // Our own mark, back from the map: the node already knows it.
                continue;
            }

            // A member that joins late must not revive marks whose restoration is long over, nor
            // ease in a node whose return from a drain is.
            var over = now - mark.AtUnixMs > _markLifetime.TotalMilliseconds;
            if (mark.Subject == NodeMarkSubject.Health && over)
            {
                continue;
            }

            var adopted = mark.Kind == NodeMarkKind.Enabled && over ? mark with { Weight = 0 } : mark;
            _log.Debug("Adopting {0} of node {1} from {2}", mark.Kind, node, mark.Member);
            Context.ActorSelection(_nodesPath + node).Tell(new NodeActor.Adopt(adopted));
        }
    }

    /// <summary>A local NodeActor learnt (or an operator decided) something the other members should know.</summary>
    public sealed record Observed(string Node, NodeMark Mark);

    /// <summary>A membership incarnation is up: share through this replicator, as this member.</summary>
    public sealed record MembershipUp(IActorRef Replicator, string Member);

    /// <summary>That incarnation is gone: keep marks until the next one.</summary>
    public sealed record MembershipDown(IActorRef Replicator);

    /// <summary>The node set changed at run time: marks of these nodes are adopted from now on.</summary>
    public sealed record NodesChanged(IReadOnlySet<string> Nodes);

    /// <summary>An operator added or removed a node here: share it.</summary>
    public sealed record TopologyObserved(TopologyEntry Entry);

    /// <summary>The shared topology map as it now stands.</summary>
    public sealed record ReplicatedTopology(IReadOnlyList<TopologyEntry> Entries);

    /// <summary>The shared map as it now stands.</summary>
    public sealed record Replicated(IReadOnlyList<ReplicatedMark> Marks);

    public sealed record ReplicatedMark(string Node, NodeMark Mark);
}

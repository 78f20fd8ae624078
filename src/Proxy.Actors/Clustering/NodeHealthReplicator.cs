using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using Proxy.Actors.Nodes;

namespace Proxy.Actors.Clustering;

/// <summary>
/// Shares what this proxy learns about nodes with the other proxies of the cluster, and applies
/// what they learn, through a replicated last-writer-wins map (node name → latest mark). Only
/// marks travel (overloaded, circuit open, operator drain/enable/weight); each member restores a
/// marked node's weight on its own restorer, from the same starting point on the same tick, so
/// no member depends on the one that marked it. Serving never waits for this actor.
/// </summary>
public sealed class NodeHealthReplicator : ReceiveActor
{
    public static readonly LWWDictionaryKey<string, NodeMark> Key = new("proxy-node-health");

    private readonly IReadOnlySet<string> _nodes;
    private readonly string _nodesPath;
    private readonly TimeSpan _markLifetime;
    private readonly IActorRef _replicator;
    private readonly UniqueAddress _self;
    private readonly string _selfName;
    private readonly Dictionary<string, long> _applied = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <param name="nodes">The configured node names.</param>
    /// <param name="nodesPath">Where their NodeActors live (e.g. <c>/user/nodes</c>); marks are rare, so they go by selection.</param>
    /// <param name="markLifetime">How old a mark may be and still matter to a member that only now hears of it.</param>
    public NodeHealthReplicator(IReadOnlySet<string> nodes, string nodesPath, TimeSpan markLifetime)
    {
        _nodes = nodes;
        _nodesPath = nodesPath.TrimEnd('/') + "/";
        _markLifetime = markLifetime;
        _replicator = DistributedData.Get(Context.System).Replicator;
        _self = Cluster.Get(Context.System).SelfUniqueAddress;
        _selfName = _self.Address.ToString();

        Receive<Observed>(o =>
        {
            var mark = o.Mark with { Member = _selfName };
            _applied[o.Node] = mark.AtUnixMs;

            // The modify function runs inside the Replicator: it gets locals, never this actor's fields.
            var self = _self;
            var node = o.Node;
            _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, NodeMark>.Empty, WriteLocal.Instance, map => map.SetItem(self, node, mark)));
        });
        Receive<Changed>(c => Apply(c.Get(Key)));
        Receive<UpdateSuccess>(_ => { });
        Receive<UpdateTimeout>(t => _log.Warning("Could not replicate a node mark locally: {0}", t));
        Receive<GetReplicatedMarks>(_ => _replicator.Forward(Dsl.Get(Key, ReadLocal.Instance)));
    }

    public static Props Props(IReadOnlySet<string> nodes, string nodesPath, TimeSpan markLifetime) =>
        Akka.Actor.Props.Create(() => new NodeHealthReplicator(nodes, nodesPath, markLifetime));

    protected override void PreStart() => _replicator.Tell(Dsl.Subscribe(Key, Self));

    private void Apply(LWWDictionary<string, NodeMark> marks)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var (node, mark) in marks.Entries)
        {
            if (mark.Member == _selfName || !_nodes.Contains(node)
                || (_applied.TryGetValue(node, out var applied) && applied >= mark.AtUnixMs))
            {
                continue;
            }

            _applied[node] = mark.AtUnixMs;

            // A member that joins late must not revive marks whose restoration is long over.
            if (mark.Kind is NodeMarkKind.Overloaded or NodeMarkKind.CircuitOpen && now - mark.AtUnixMs > _markLifetime.TotalMilliseconds)
            {
                continue;
            }

            Context.ActorSelection(_nodesPath + node).Tell(new NodeActor.Adopt(mark));
        }
    }

    /// <summary>A local NodeActor learnt something the other members should know.</summary>
    public sealed record Observed(string Node, NodeMark Mark);

    /// <summary>Answered with the replicator's <see cref="GetSuccess"/> (or NotFound): the marks as this member has them.</summary>
    public sealed record GetReplicatedMarks
    {
        public static GetReplicatedMarks Instance { get; } = new();
    }
}

/// <summary>What a member learnt about a node, when, and who learnt it.</summary>
public sealed record NodeMark(NodeMarkKind Kind, int Weight, long AtUnixMs, string Member)
{
    public static NodeMark Now(NodeMarkKind kind, int weight = 0) =>
        new(kind, weight, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "");
}

public enum NodeMarkKind
{
    Overloaded,
    CircuitOpen,
    Drained,
    Enabled,
    WeightSet,
}

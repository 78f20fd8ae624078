using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;

namespace Proxy.Actors.Clustering;

/// <summary>
/// Lives in the membership actor system (ADR 0014) and shares node marks with the other proxies
/// through one replicated last-writer-wins map, an entry per node and subject ("rotation/n1",
/// "weight/n1", "health/n1"), so an operator's drain and an observed overload never overwrite each
/// other. Each entry is timestamped with the moment the mark was made, not the moment it was
/// written, so a member that rejoins and writes its marks again cannot undo a later decision. Every
/// change of the map goes to the serving system's <see cref="ClusterBridge"/>, which decides what is
/// new; this actor keeps no memory of its own, because a new incarnation starts without one.
/// </summary>
public sealed class NodeHealthReplicator : ReceiveActor
{
    public static readonly LWWDictionaryKey<string, NodeMark> Key = new("proxy-node-marks");

    /// <summary>Operators' additions and removals of nodes, by node name (ADR 0015).</summary>
    public static readonly LWWDictionaryKey<string, TopologyEntry> TopologyKey = new("proxy-node-topology");

    private readonly IActorRef _bridge;
    private readonly IActorRef _replicator;
    private readonly UniqueAddress _self;
    private readonly string _selfName;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <param name="bridge">The serving system's <see cref="ClusterBridge"/>.</param>
    /// <param name="synced">Called once this member is up and has read the marks from a majority of the members (or could not).</param>
    public NodeHealthReplicator(IActorRef bridge, Action synced)
    {
        _bridge = bridge;
        _replicator = DistributedData.Get(Context.System).Replicator;
        _self = Cluster.Get(Context.System).SelfUniqueAddress;
        _selfName = _self.Address.ToString();

        Receive<Share>(share =>
        {
            var mark = share.Mark.Member.Length == 0 ? share.Mark with { Member = _selfName } : share.Mark;

            // The modify function runs inside the Replicator: it gets locals, never this actor's fields.
            var self = _self;
            var entry = EntryKey(share.Node, mark.Subject);
            _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, NodeMark>.Empty, WriteLocal.Instance, map => map.SetItem(self, entry, mark, MarkTime)));
        });
        Receive<ShareTopology>(share =>
        {
            var entry = share.Entry.Member.Length == 0 ? share.Entry with { Member = _selfName } : share.Entry;
            var self = _self;
            _replicator.Tell(Dsl.Update(TopologyKey, LWWDictionary<string, TopologyEntry>.Empty, WriteLocal.Instance, map => map.SetItem(self, entry.Name.ToLowerInvariant(), entry, EntryTime)));
        });
        Receive<Changed>(c =>
        {
            if (c.Key.Equals(TopologyKey))
            {
                _bridge.Tell(new ClusterBridge.ReplicatedTopology(c.Get(TopologyKey).Entries.Values.ToArray()));
            }
            else
            {
                Forward(c.Get(Key));
            }
        });

        // Up: read the marks from a majority before saying this member knows the fleet's state
        // (a restarted member must not serve a drained node from its configuration meanwhile).
        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (up.Member.UniqueAddress.Equals(_self))
            {
                // The node set first, then the marks of its nodes.
                _replicator.Tell(Dsl.Get(TopologyKey, new ReadMajority(TimeSpan.FromSeconds(3))));
            }
        });
        Receive<GetSuccess>(g =>
        {
            if (g.Key.Equals(TopologyKey))
            {
                _bridge.Tell(new ClusterBridge.ReplicatedTopology(g.Get(TopologyKey).Entries.Values.ToArray()));
                _replicator.Tell(Dsl.Get(Key, new ReadMajority(TimeSpan.FromSeconds(3))));
                return;
            }

            Forward(g.Get(Key));
            synced();
        });
        Receive<NotFound>(n =>
        {
            if (n.Key.Equals(TopologyKey))
            {
                _replicator.Tell(Dsl.Get(Key, new ReadMajority(TimeSpan.FromSeconds(3))));
                return;
            }

            synced();
        });
        Receive<GetFailure>(_ =>
        {
            _log.Warning("Could not read the node marks from a majority of the members; going on with what gossip brings");
            synced();
        });
        Receive<UpdateSuccess>(_ => { });
        Receive<UpdateTimeout>(t => _log.Warning("Could not replicate a node mark locally: {0}", t));
    }

    public static Props Props(IActorRef bridge, Action synced) => Akka.Actor.Props.Create(() => new NodeHealthReplicator(bridge, synced));

    public static string EntryKey(string node, NodeMarkSubject subject) => subject switch
    {
        NodeMarkSubject.Rotation => "rotation/" + node,
        NodeMarkSubject.Weight => "weight/" + node,
        _ => "health/" + node,
    };

    protected override void PreStart()
    {
        _replicator.Tell(Dsl.Subscribe(Key, Self));
        _replicator.Tell(Dsl.Subscribe(TopologyKey, Self));
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
    }

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);

    private void Forward(LWWDictionary<string, NodeMark> map) =>
        _bridge.Tell(new ClusterBridge.Replicated(map.Entries.Select(e => new ClusterBridge.ReplicatedMark(NodeOf(e.Key), e.Value)).ToArray()));

    // Last writer wins by when the mark was made (see the class comment); a tie goes to the map.
    private static long MarkTime(long current, NodeMark mark) => mark.AtUnixMs;

    private static long EntryTime(long current, TopologyEntry entry) => entry.AtUnixMs;

    private static string NodeOf(string entry) => entry[(entry.IndexOf('/', StringComparison.Ordinal) + 1)..];

    /// <summary>Write this mark (made here, or remembered from before this incarnation) into the shared map.</summary>
    public sealed record Share(string Node, NodeMark Mark);

    /// <summary>Write this change of the node set into the shared topology map.</summary>
    public sealed record ShareTopology(TopologyEntry Entry);
}

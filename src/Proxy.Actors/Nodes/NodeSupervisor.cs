using Akka.Actor;
using Akka.Event;
using Proxy.Actors.Classification;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Tls;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Nodes;

/// <summary>
/// Parent of the NodeActors, and the one place the node set changes (ADR 0015). It owns each
/// node's <see cref="NodeForwarder"/> (connection pool), so a NodeActor that crashes is restarted
/// with its connections and in-flight calls intact, and each node's
/// <see cref="OperatorOverrideKeeper"/>, so a restart keeps an operator's drain and configured
/// weight. A restart forgets only the node's soft state (overload mark, circuit), which the next
/// answers rebuild. A node added at run time starts cold (weight 1, restoring like a node whose
/// overload mark lifts); a node removed leaves the balancer's table at once, finishes the tries it
/// has in flight, then stops, and only then are its connections closed and its slot freed.
/// </summary>
public sealed class NodeSupervisor : UntypedActor
{
    private readonly ForwardingSettings _forwarding;
    private IReadOnlyList<ClassifierSpec> _classifiers;

    // Thread-safe (not the actor's own adapter): forwarders log their TLS files' renewals from handshakes.
    private ILoggingAdapter? _tlsLog;
    private readonly NodeServices _services;
    private readonly Dictionary<string, Member> _members = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<IActorRef, Member> _retiring = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public NodeSupervisor(IReadOnlyList<NodeSettings> nodes, ForwardingSettings forwarding, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services)
    {
        _forwarding = forwarding;
        _classifiers = classifiers;
        _services = services;
        for (var slot = 0; slot < nodes.Count; slot++)
        {
            var member = Start(slot, nodes[slot], cold: false);
            services.Balancer.Attach(slot, new NodeTarget(member.Actor, member.Settings.Name, member.Launcher));
        }
    }

    // A switch, not ReceiveActor's handlers compiled from expression trees (ADR 0007).
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case GetRoster:
                Sender.Tell(Roster());
                break;
            case AddNode add:
                AddNodeNow(add);
                break;
            case RemoveNode remove:
                RemoveNodeNow(remove);
                break;
            case Terminated terminated:
                StoppedNode(terminated);
                break;
            case ReplaceClassifiers replace:
                // Every node, and every node added from now on, judges with the new chain.
                _classifiers = replace.Rules;
                foreach (var member in _members.Values)
                {
                    member.Forwarder.UseChain(WholeAnswerTests(replace.Rules));
                    member.Actor.Tell(new NodeActor.ReplaceClassifiers(replace.Rules));
                }

                Sender.Tell(new ClassifiersReplaced(replace.Rules.Count));
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    nameof(NodeSupervisor),
                    $"nodes={_members.Count} retiring={_retiring.Count}",
                    [.. _members.Values.Select(m => m.Actor), .. _retiring.Keys]));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    public static Props Props(IReadOnlyList<NodeSettings> nodes, ForwardingSettings forwarding, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services) =>
        Akka.Actor.Props.Create(() => new NodeSupervisor(nodes, forwarding, classifiers, services));

    // Always restart: a node that stopped for good would silently shrink the pool.
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(maxNrOfRetries: -1, withinTimeRange: Timeout.InfiniteTimeSpan, localOnlyDecider: _ => Directive.Restart);

    protected override void PostStop()
    {
        foreach (var member in _members.Values.Concat(_retiring.Values))
        {
            member.Forwarder.Dispose();
        }
    }

    private Member Start(int slot, NodeSettings node, bool cold)
    {
        var forwarder = new NodeForwarder(node, _forwarding, WholeAnswerTests(_classifiers), _tlsLog ??= Logging.GetLogger(Context.System, typeof(NodeTlsClient)));

        // Why an object handed down in the Props rather than a message: a restart re-runs the
        // NodeActor's constructor with these same arguments, and its PreStart publishes the
        // node's weight at once. A drain re-sent to itself in PreRestart would queue behind
        // messages already in the mailbox, and one reported to this parent could arrive after
        // the failure (a system message, handled first): either way the new incarnation would
        // publish full weight and requests would be routed to a drained node until it caught up.
        // Read synchronously in the constructor, the keeper leaves no such window.
        IActorRef actor;
        var launcher = new NodeActor.TryLauncher();
        try
        {
            actor = Context.ActorOf(NodeActor.Props(slot, node, forwarder, _classifiers, _services, new OperatorOverrideKeeper(), cold, launcher), node.Name);
        }
        catch (InvalidActorNameException)
        {
            forwarder.Dispose();
            throw;
        }

        var member = new Member(slot, node, actor, forwarder, launcher);
        _members[node.Name] = member;
        return member;
    }

    private void AddNodeNow(AddNode add)
    {
        var node = add.Node;
        if (_members.ContainsKey(node.Name) || _retiring.Values.Any(m => string.Equals(m.Settings.Name, node.Name, StringComparison.OrdinalIgnoreCase)))
        {
            Sender.Tell(new NodeChangeRefused(node.Name, NodeChangeRefusal.Exists, $"a node named '{node.Name}' exists{(_members.ContainsKey(node.Name) ? "" : " (still finishing its tries after its removal)")}"));
            return;
        }

        // The slot comes from the balancer (a free one, or a new one); the actor is named by it
        // before any weight is published, so the first pick that lands on it can reach it.
        var slot = _services.Balancer.Reserve();
        Member member;
        try
        {
            member = Start(slot, node, cold: true);
        }
        catch (InvalidActorNameException ex)
        {
            // Names are checked before they get here; should one still not be an actor name, the
            // change is refused and this supervisor (the node set) carries on unharmed.
            _services.Balancer.Retire(slot);
            _services.Balancer.Release(slot);
            Sender.Tell(new NodeChangeRefused(node.Name, NodeChangeRefusal.Invalid, ex.Message));
            return;
        }

        _services.Balancer.Attach(slot, new NodeTarget(member.Actor, node.Name, member.Launcher));
        _log.Info("Node {0} added at {1} (weight {2}), starting cold", node.Name, node.Address.Original, node.Weight);
        _services.Metrics.NodeAdded(node.Name);
        NodesChanged();
        if (add.Source == NodeChangeSource.Operator)
        {
            _services.ClusterBridge?.Tell(new Clustering.ClusterBridge.TopologyObserved(Clustering.TopologyEntry.Added(node)));
        }

        Sender.Tell(new NodeAdded(node.Name, slot));
    }

    private void RemoveNodeNow(RemoveNode remove)
    {
        if (!_members.Remove(remove.Name, out var member))
        {
            Sender.Tell(new NodeChangeRefused(remove.Name, NodeChangeRefusal.Unknown, $"no node is named '{remove.Name}'"));
            return;
        }

        // Out of the table first: no new try picks it. Then it finishes what it has in flight.
        _services.Balancer.Retire(member.Slot);
        _retiring[member.Actor] = member;
        Context.Watch(member.Actor);
        member.Actor.Tell(NodeActor.Retire.Instance);
        _log.Info("Node {0} removed: no new tries; it stops once its tries in flight end", member.Settings.Name);
        NodesChanged();
        if (remove.Source == NodeChangeSource.Operator)
        {
            _services.ClusterBridge?.Tell(new Clustering.ClusterBridge.TopologyObserved(Clustering.TopologyEntry.RemovedNow(member.Settings.Name)));
        }

        Sender.Tell(new NodeRemoved(member.Settings.Name));
    }

    private void StoppedNode(Terminated terminated)
    {
        if (_retiring.Remove(terminated.ActorRef, out var member))
        {
            member.Forwarder.Dispose();
            _services.Balancer.Release(member.Slot);
            _services.Metrics.NodeRemoved(member.Settings.Name);
            _log.Info("Node {0} stopped after its removal", member.Settings.Name);
        }
    }

    private static IEnumerable<Func<IAnswerView, bool>> WholeAnswerTests(IReadOnlyList<ClassifierSpec> rules) =>
        rules.Select(c => c.NeedsWholeAnswer).OfType<Func<IAnswerView, bool>>();

    private void NodesChanged() =>
        _services.ClusterBridge?.Tell(new Clustering.ClusterBridge.NodesChanged(_members.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase)));

    private NodeRoster Roster()
    {
        var live = _members.Values.OrderBy(m => m.Slot).ToArray();
        return new NodeRoster(live.Select(m => m.Actor).ToArray(), live.Select(m => m.Settings.Name).ToArray(), live.Select(m => m.Slot).ToArray());
    }

    public sealed record GetRoster
    {
        public static GetRoster Instance { get; } = new();
    }

    /// <summary>Add this node now (it starts cold). Answered with <see cref="NodeAdded"/> or <see cref="NodeChangeRefused"/>.</summary>
    public sealed record AddNode(NodeSettings Node, NodeChangeSource Source = NodeChangeSource.Local);

    /// <summary>Remove this node gracefully. Answered with <see cref="NodeRemoved"/> or <see cref="NodeChangeRefused"/>.</summary>
    public sealed record RemoveNode(string Name, NodeChangeSource Source = NodeChangeSource.Local);

    /// <summary>Judge with this chain from now on, on every node. Answered with <see cref="ClassifiersReplaced"/>.</summary>
    public sealed record ReplaceClassifiers(IReadOnlyList<ClassifierSpec> Rules);

    public sealed record ClassifiersReplaced(int Rules);

    public sealed record NodeAdded(string Name, int Slot);

    public sealed record NodeRemoved(string Name);

    public sealed record NodeChangeRefused(string Name, NodeChangeRefusal Reason, string Message);

    private sealed record Member(int Slot, NodeSettings Settings, IActorRef Actor, NodeForwarder Forwarder, NodeActor.TryLauncher Launcher);
}

/// <summary>Who asked for a change of the node set; only an operator's is shared with the cluster.</summary>
public enum NodeChangeSource
{
    /// <summary>Configuration, its reload, or DNS discovery: every member does the same on its own.</summary>
    Local,

    /// <summary>An operator through the admin API: shared with every member (ADR 0015).</summary>
    Operator,

    /// <summary>Another member's operator: applied here, not shared back.</summary>
    Cluster,
}

public enum NodeChangeRefusal
{
    Exists,
    Unknown,
    Invalid,
}

/// <summary>The live node actors in slot order, with their names and their slots in the <see cref="NodeBalancer"/>.</summary>
public sealed record NodeRoster(IReadOnlyList<IActorRef> Nodes, IReadOnlyList<string> Names, IReadOnlyList<int>? SlotList = null)
{
    /// <summary>Each node's slot in the balancer (by default, its position: the configured order).</summary>
    public IReadOnlyList<int> Slots => SlotList ?? Enumerable.Range(0, Nodes.Count).ToArray();
}

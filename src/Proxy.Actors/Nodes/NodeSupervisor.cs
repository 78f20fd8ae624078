using Akka.Actor;
using Proxy.Actors.Classification;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Forwarding;

namespace Proxy.Actors.Nodes;

/// <summary>
/// Parent of the NodeActors. It owns each node's <see cref="NodeForwarder"/> (connection pool), so a
/// NodeActor that crashes is restarted with its connections and in-flight calls intact, and each
/// node's <see cref="OperatorOverrideKeeper"/>, so a restart keeps an operator's drain and
/// configured weight. A restart forgets only the node's soft state (overload mark, circuit), which
/// the next answers rebuild.
/// </summary>
public sealed class NodeSupervisor : ReceiveActor
{
    private readonly List<NodeForwarder> _forwarders = [];
    private readonly NodeRoster _roster;

    public NodeSupervisor(IReadOnlyList<NodeSettings> nodes, ForwardingSettings forwarding, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services)
    {
        var refs = new IActorRef[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            var forwarder = new NodeForwarder(nodes[i], forwarding, classifiers.Select(c => c.NeedsWholeAnswer).OfType<Func<IAnswerView, bool>>());
            _forwarders.Add(forwarder);

            // Why an object handed down in the Props rather than a message: a restart re-runs the
            // NodeActor's constructor with these same arguments, and its PreStart publishes the
            // node's weight at once. A drain re-sent to itself in PreRestart would queue behind
            // messages already in the mailbox, and one reported to this parent could arrive after
            // the failure (a system message, handled first): either way the new incarnation would
            // publish full weight and requests would be routed to a drained node until it caught up.
            // Read synchronously in the constructor, the keeper leaves no such window.
            refs[i] = Context.ActorOf(NodeActor.Props(i, nodes[i], forwarder, classifiers, services, new OperatorOverrideKeeper()), nodes[i].Name);
        }

        _roster = new NodeRoster(refs, nodes.Select(n => n.Name).ToArray());
        Receive<GetRoster>(_ => Sender.Tell(_roster));
        Receive<DescribeActor>(_ => Sender.Tell(new ActorDescription(nameof(NodeSupervisor), $"nodes={_roster.Nodes.Count}", _roster.Nodes)));
    }

    public static Props Props(IReadOnlyList<NodeSettings> nodes, ForwardingSettings forwarding, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services) =>
        Akka.Actor.Props.Create(() => new NodeSupervisor(nodes, forwarding, classifiers, services));

    // Always restart: a node that stopped for good would silently shrink the pool.
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(maxNrOfRetries: -1, withinTimeRange: Timeout.InfiniteTimeSpan, localOnlyDecider: _ => Directive.Restart);

    protected override void PostStop()
    {
        foreach (var forwarder in _forwarders)
        {
            forwarder.Dispose();
        }
    }

    public sealed record GetRoster
    {
        public static GetRoster Instance { get; } = new();
    }
}

/// <summary>The node actors in configuration order: index i is node i of the <see cref="NodeBalancer"/>.</summary>
public sealed record NodeRoster(IReadOnlyList<IActorRef> Nodes, IReadOnlyList<string> Names);

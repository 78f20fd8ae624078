using Akka.Actor;
using Proxy.Actors.Classification;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Forwarding;

namespace Proxy.Actors.Nodes;

/// <summary>
/// Parent of the NodeActors. It owns each node's <see cref="NodeForwarder"/> (connection pool), so a
/// NodeActor that crashes is restarted with its connections and in-flight calls intact; a restart
/// forgets only the node's soft state, which the next answers rebuild.
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
            refs[i] = Context.ActorOf(NodeActor.Props(i, nodes[i], forwarder, classifiers, services), nodes[i].Name);
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

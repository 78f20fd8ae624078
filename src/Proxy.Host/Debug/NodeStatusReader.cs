using Akka.Actor;
using Akka.Hosting;
using Proxy.Actors.Nodes;

namespace Proxy.Host.Debug;

/// <summary>Reads node state the only way it may be read: by asking each NodeActor.</summary>
public sealed class NodeStatusReader(IRequiredActor<NodeSupervisor> nodeSupervisor)
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The nodes as they are now (the set changes at run time, so it is asked for each time).</summary>
    public async Task<NodeRoster> RosterAsync(CancellationToken cancellationToken)
    {
        var supervisor = await nodeSupervisor.GetAsync(cancellationToken).ConfigureAwait(false);
        return await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, AskTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Asks the NodeSupervisor to add or remove a node; answers what it said.</summary>
    public async Task<object> ChangeAsync(object change, CancellationToken cancellationToken)
    {
        var supervisor = await nodeSupervisor.GetAsync(cancellationToken).ConfigureAwait(false);

        // Longer than a read: a change must not be reported lost while the supervisor is busy.
        return await supervisor.Ask<object>(change, ChangeTimeout, cancellationToken).ConfigureAwait(false);
    }

    private static readonly TimeSpan ChangeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Sends an operator action to the named node; null when no node has that name.</summary>
    public async Task<NodeStateReport?> AdministerAsync(string name, object action, CancellationToken cancellationToken)
    {
        var roster = await RosterAsync(cancellationToken).ConfigureAwait(false);
        var index = roster.Names.ToList().FindIndex(n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase));
        return index < 0
            ? null
            : await roster.Nodes[index].Ask<NodeStateReport>(action, AskTimeout, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<NodeStateReport>> ReadAsync(CancellationToken cancellationToken)
    {
        var roster = await RosterAsync(cancellationToken).ConfigureAwait(false);
        return await Task.WhenAll(roster.Nodes.Select(n =>
            n.Ask<NodeStateReport>(NodeActor.GetNodeState.Instance, AskTimeout, cancellationToken))).ConfigureAwait(false);
    }

    public static string StateName(NodeHealth state) => state switch
    {
        NodeHealth.Healthy => "healthy",
        NodeHealth.Overloaded => "overloaded",
        NodeHealth.Restoring => "restoring",
        NodeHealth.Open => "open",
        NodeHealth.HalfOpen => "half-open",
        _ => "drained",
    };
}

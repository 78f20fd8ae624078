using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Classification;
using Proxy.Actors.Nodes;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Nodes;

/// <summary>An operator's drain and weight survive a NodeActor's supervision restart. No try is forwarded: no port is needed.</summary>
public sealed class OperatorOverrideRestartTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);

    // Never contacted: these tests forward nothing.
    private static readonly NodeSettings[] Nodes = [new("n1", NodeAddress.Parse("http://127.0.0.1:7399"), 128)];

    private readonly NodeBalancer _balancer = new([128]);
    private readonly WeightLog _weights = new();

    /// <summary>Every weight the node published, in order (the balancer shows only the last).</summary>
    private sealed class WeightLog : IProxyMetrics
    {
        public ConcurrentQueue<int> Published { get; } = new();

        public void TryCompleted(string node, string verdict, int status, TimeSpan upstream)
        {
        }

        public void Marked(string node)
        {
        }

        public void WeightChanged(string node, int weight) => Published.Enqueue(weight);

        public void InFlightChanged(string node, int inFlight)
        {
        }
    }

    private async Task<IActorRef> StartNodeAsync()
    {
        var services = new NodeServices(HealthSettings.Default, _balancer, CreateTestProbe().Ref, _weights);
        var supervisor = Sys.ActorOf(NodeSupervisor.Props(Nodes, ForwardingSettings.Default, ClassifierSpec.DefaultChain, services));
        return (await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, Wait)).Nodes[0];
    }

    // Kill fails the actor (ActorKilledException) and the NodeSupervisor restarts it; the new
    // incarnation publishes its weight in PreStart, before it answers the next message.
    private async Task<NodeStateReport> CrashAsync(IActorRef node)
    {
        await node.Ask<NodeStateReport>(NodeActor.GetNodeState.Instance, Wait);
        var published = _weights.Published.Count;
        node.Tell(Kill.Instance);
        var after = await node.Ask<NodeStateReport>(NodeActor.GetNodeState.Instance, Wait);
        Assert.Equal(published + 1, _weights.Published.Count);
        return after;
    }

    [Fact]
    public async Task A_drained_node_is_still_drained_after_its_actor_restarts_and_never_gets_weight_back_meanwhile()
    {
        var node = await StartNodeAsync();
        var drained = await node.Ask<NodeStateReport>(NodeActor.Drain.Instance, Wait);
        Assert.Equal(NodeHealth.Drained, drained.State);

        var after = await CrashAsync(node);

        Assert.Equal(NodeHealth.Drained, after.State);
        Assert.Equal(0, after.Weight);
        Assert.Equal([0], _balancer.Weights);
        // Configured weight at start, 0 on the drain, 0 again from the new incarnation's PreStart.
        Assert.Equal([128, 0, 0], _weights.Published);
    }

    [Fact]
    public async Task A_node_drained_then_restarted_comes_back_gently_when_enabled()
    {
        var node = await StartNodeAsync();
        await node.Ask<NodeStateReport>(NodeActor.Drain.Instance, Wait);
        await CrashAsync(node);

        var enabled = await node.Ask<NodeStateReport>(NodeActor.Enable.Instance, Wait);

        Assert.Equal(NodeHealth.Restoring, enabled.State);
        Assert.Equal(WeightSteps.Marked, enabled.Weight);
        Assert.Equal([WeightSteps.Marked], _balancer.Weights);
    }

    [Fact]
    public async Task A_weight_set_by_an_operator_survives_a_restart()
    {
        var node = await StartNodeAsync();
        await node.Ask<NodeStateReport>(new NodeActor.SetWeight(64), Wait);

        var after = await CrashAsync(node);

        Assert.Equal(NodeHealth.Healthy, after.State);
        Assert.Equal(64, after.Weight);
        Assert.Equal(64, after.ConfiguredWeight);
        Assert.Equal([64], _balancer.Weights);
        Assert.Equal([128, 64, 64], _weights.Published);
    }

    [Fact]
    public async Task An_enabled_node_restarts_as_configured()
    {
        var node = await StartNodeAsync();
        await node.Ask<NodeStateReport>(NodeActor.Drain.Instance, Wait);
        await node.Ask<NodeStateReport>(NodeActor.Enable.Instance, Wait);

        var after = await CrashAsync(node);

        Assert.Equal(NodeHealth.Healthy, after.State);
        Assert.Equal(128, after.Weight);
        Assert.Equal([128], _balancer.Weights);
        Assert.Equal([128, 0, 1, 128], _weights.Published);
    }
}

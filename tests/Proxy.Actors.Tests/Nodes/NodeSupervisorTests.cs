using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Microsoft.AspNetCore.Http;
using Proxy.Actors.Classification;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Nodes;

public sealed class NodeSupervisorTests : TestKit, IAsyncLifetime
{
    private TestNode _backend = null!;

    public async Task InitializeAsync() => _backend = await TestNode.StartAsync("n1");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task A_crashed_node_actor_is_restarted_and_keeps_forwarding()
    {
        var nodes = new[] { new NodeSettings("n1", NodeAddress.Parse(_backend.Address), 128) };
        var supervisor = Sys.ActorOf(NodeSupervisor.Props(nodes, ForwardingSettings.Default, ClassifierSpec.DefaultChain, new NodeServices(HealthSettings.Default, new NodeBalancer([128]), CreateTestProbe().Ref, NullProxyMetrics.Instance)));
        var roster = await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, TimeSpan.FromSeconds(3));
        var node = roster.Nodes[0];

        // Kill makes the actor fail; were it stopped rather than restarted, the Forward would be lost.
        node.Tell(Kill.Instance);

        node.Tell(new NodeActor.Forward(new ProxyRequest(1, "GET", "/", [], RequestBody.None, CancellationToken.None)));
        using var answer = (await ExpectMsgAsync<Answered>()).Answer;
        Assert.Contains("n1", Encoding.UTF8.GetString(answer.Buffered.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restarted_node_actor_keeps_its_classifier_actors()
    {
        var nodes = new[] { new NodeSettings("n1", NodeAddress.Parse(_backend.Address), 128) };
        // A rule without a screen: it judges every answer, successes included.
        ClassifierSpec[] chain = [new("shed", StatusClassifier.Props("shed", Verdict.Overloaded, [503]))];
        var supervisor = Sys.ActorOf(NodeSupervisor.Props(nodes, ForwardingSettings.Default, chain, new NodeServices(HealthSettings.Default, new NodeBalancer([128]), CreateTestProbe().Ref, NullProxyMetrics.Instance)));
        var node = (await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, TimeSpan.FromSeconds(3))).Nodes[0];
        var classifierPath = node.Path / "classifier-shed";
        // The roster answers once the node actors are created, not constructed: their children follow.
        IActorRef before = ActorRefs.Nobody;
        await AwaitAssertAsync(async () => before = await Sys.ActorSelection(classifierPath).ResolveOne(TimeSpan.FromSeconds(3)));

        node.Tell(new NodeActor.Forward(new ProxyRequest(1, "GET", "/", [], RequestBody.None, CancellationToken.None)));
        (await ExpectMsgAsync<Answered>()).Answer.Dispose();
        node.Tell(Kill.Instance);
        node.Tell(new NodeActor.Forward(new ProxyRequest(2, "GET", "/", [], RequestBody.None, CancellationToken.None)));
        (await ExpectMsgAsync<Answered>()).Answer.Dispose();

        // The classifier was restarted with its parent, not replaced: the reference a try in flight
        // holds still reaches it, and it judged the answer after the restart.
        var after = await Sys.ActorSelection(classifierPath).ResolveOne(TimeSpan.FromSeconds(3));
        Assert.Equal(before, after);
        var state = await after.Ask<ClassifierActor.ClassifierState>(ClassifierActor.GetClassifierState.Instance, TimeSpan.FromSeconds(3));
        Assert.Equal(1, state.Evaluated);
    }

    [Fact]
    public async Task A_node_added_at_run_time_takes_a_slot_starts_cold_and_a_name_taken_is_refused()
    {
        var balancer = new NodeBalancer([128]);
        var restorer = CreateTestProbe();
        var supervisor = Sys.ActorOf(NodeSupervisor.Props([new NodeSettings("n1", NodeAddress.Parse(_backend.Address), 128)], ForwardingSettings.Default, ClassifierSpec.DefaultChain, new NodeServices(HealthSettings.Default, balancer, restorer.Ref, NullProxyMetrics.Instance)));

        var added = await supervisor.Ask<NodeSupervisor.NodeAdded>(new NodeSupervisor.AddNode(new NodeSettings("n2", NodeAddress.Parse(_backend.Address), 64)), TimeSpan.FromSeconds(3));

        Assert.Equal(1, added.Slot);
        await restorer.ExpectMsgAsync<WeightRestorer.Marked>();
        await AwaitAssertAsync(() => Assert.Equal([128, WeightSteps.Marked], balancer.Weights));
        Assert.Equal("n2", balancer.Targets[1]!.Name);
        Assert.Equal(["n1", "n2"], (await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, TimeSpan.FromSeconds(3))).Names);
        var refused = await supervisor.Ask<NodeSupervisor.NodeChangeRefused>(new NodeSupervisor.AddNode(new NodeSettings("N2", NodeAddress.Parse(_backend.Address), 64)), TimeSpan.FromSeconds(3));
        Assert.Equal(NodeChangeRefusal.Exists, refused.Reason);
    }

    [Fact]
    public async Task A_node_removed_leaves_the_table_at_once_finishes_its_try_in_flight_then_stops_and_frees_its_slot()
    {
        var gate = new TaskCompletionSource();
        await using var slow = await TestNode.StartAsync("slow");
        slow.Handle(async ctx =>
        {
            await gate.Task;
            await ctx.Response.WriteAsync("slow done");
        });
        var balancer = new NodeBalancer([128, 128]);
        var supervisor = Sys.ActorOf(NodeSupervisor.Props(
            [new NodeSettings("n1", NodeAddress.Parse(_backend.Address), 128), new NodeSettings("slow", NodeAddress.Parse(slow.Address), 128)],
            ForwardingSettings.Default, ClassifierSpec.DefaultChain, new NodeServices(HealthSettings.Default, balancer, CreateTestProbe().Ref, NullProxyMetrics.Instance)));
        var slowActor = (await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, TimeSpan.FromSeconds(3))).Nodes[1];
        Watch(slowActor);
        slowActor.Tell(new NodeActor.Forward(new ProxyRequest(1, "GET", "/", [], RequestBody.None, CancellationToken.None)));
        await AwaitAssertAsync(() => Assert.Equal(1, slow.Hits));

        await supervisor.Ask<NodeSupervisor.NodeRemoved>(new NodeSupervisor.RemoveNode("slow"), TimeSpan.FromSeconds(3));

        // Out of the table, so no new try picks it; its try in flight still gets its answer.
        Assert.Null(balancer.Targets[1]);
        Assert.All(Enumerable.Range(0, 20), _ => Assert.Equal(0, balancer.Pick()));
        Assert.Equal(["n1"], (await supervisor.Ask<NodeRoster>(NodeSupervisor.GetRoster.Instance, TimeSpan.FromSeconds(3))).Names);
        gate.SetResult();
        using (var answer = (await ExpectMsgAsync<Answered>()).Answer)
        {
            Assert.Equal("slow done", Encoding.UTF8.GetString(answer.Buffered.Span));
        }

        await ExpectTerminatedAsync(slowActor);
        // The supervisor hears of the stop too (it watches), then frees the slot for the next node.
        await AwaitAssertAsync(async () =>
        {
            var name = "n3-" + Guid.NewGuid().ToString("N");
            var again = await supervisor.Ask<NodeSupervisor.NodeAdded>(new NodeSupervisor.AddNode(new NodeSettings(name, NodeAddress.Parse(_backend.Address), 128)), TimeSpan.FromSeconds(3));
            if (again.Slot != 1)
            {
                await supervisor.Ask<NodeSupervisor.NodeRemoved>(new NodeSupervisor.RemoveNode(name), TimeSpan.FromSeconds(3));
            }

            Assert.Equal(1, again.Slot);
        });
    }
}

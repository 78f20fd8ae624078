using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
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
}

using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Classification;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Nodes;

public sealed class NodeActorTests : TestKit, IAsyncLifetime
{
    private TestNode _backend = null!;
    private readonly NodeBalancer _balancer = new([128]);
    private readonly List<NodeForwarder> _forwarders = [];

    public async Task InitializeAsync() => _backend = await TestNode.StartAsync("n1");

    public async Task DisposeAsync()
    {
        _forwarders.ForEach(f => f.Dispose());
        await _backend.DisposeAsync();
    }

    private IActorRef StartNode(string address, IActorRef restorer, HealthSettings? health = null, IProxyMetrics? metrics = null)
    {
        var settings = new NodeSettings("n1", NodeAddress.Parse(address), 128);
        var forwarder = new NodeForwarder(settings, ForwardingSettings.Default);
        _forwarders.Add(forwarder);
        var services = new NodeServices(health ?? HealthSettings.Default, _balancer, restorer, metrics ?? NullProxyMetrics.Instance);
        return Sys.ActorOf(NodeActor.Props(0, settings, forwarder, ClassifierSpec.DefaultChain, services));
    }

    // A node whose tries a requester launches itself, as RequestActors do; answers once the actor has started.
    private async Task<(IActorRef Node, NodeActor.TryLauncher Launcher)> StartLaunchedNode(string address, IReadOnlyList<ClassifierSpec> chain)
    {
        var settings = new NodeSettings("n1", NodeAddress.Parse(address), 128);
        var forwarder = new NodeForwarder(settings, ForwardingSettings.Default);
        _forwarders.Add(forwarder);
        var launcher = new NodeActor.TryLauncher();
        var services = new NodeServices(HealthSettings.Default, _balancer, CreateTestProbe().Ref, NullProxyMetrics.Instance);
        var node = Sys.ActorOf(NodeActor.Props(0, settings, forwarder, chain, services, new OperatorOverrideKeeper(), cold: false, launcher));
        await StateOf(node);
        return (node, launcher);
    }

    private sealed class FailingMetrics : IProxyMetrics
    {
        public void TryCompleted(string node, string verdict, int status, TimeSpan upstream) => throw new InvalidOperationException("metrics broke");

        public void Marked(string node)
        {
        }

        public void WeightChanged(string node, int weight)
        {
        }

        public void InFlightChanged(string node, int inFlight)
        {
        }
    }

    private static ProxyRequest Post(string body = "<methodCall/>") =>
        new(1, "POST", "/RPC2", [new("Content-Type", "text/xml")], new BufferedBody(Encoding.UTF8.GetBytes(body)), CancellationToken.None);

    // A node that answers "ok" once the test lets it go.
    private static async Task<TestNode> StartHeldNode(Task release)
    {
        var node = await TestNode.StartAsync("slow");
        node.Handle(async ctx =>
        {
            await release;
            await Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(ctx.Response, "ok");
        });
        return node;
    }

    private async Task<NodeStateReport> StateOf(IActorRef node) =>
        await node.Ask<NodeStateReport>(NodeActor.GetNodeState.Instance, TimeSpan.FromSeconds(3));

    [Fact]
    public async Task A_new_classifier_chain_judges_new_tries_while_a_try_under_way_keeps_its_own_chain()
    {
        var gate = new TaskCompletionSource();
        await using var slow = await StartHeldNode(gate.Task);
        var settings = new NodeSettings("n1", NodeAddress.Parse(slow.Address), 128);
        var forwarder = new NodeForwarder(settings, ForwardingSettings.Default);
        _forwarders.Add(forwarder);
        ClassifierSpec[] old = [new("shed", StatusClassifier.Props("shed", Verdict.Overloaded, [503]))];
        ClassifierSpec[] next = [new("all200", StatusClassifier.Props("all200", Verdict.Overloaded, [200]))];
        var node = Sys.ActorOf(NodeActor.Props(0, settings, forwarder, old, new NodeServices(HealthSettings.Default, _balancer, CreateTestProbe().Ref, NullProxyMetrics.Instance)));
        var first = CreateTestProbe();
        node.Tell(new NodeActor.Forward(Post()), first.Ref);
        await AwaitAssertAsync(() => Assert.Equal(1, slow.Hits));

        node.Tell(new NodeActor.ReplaceClassifiers(next));
        gate.SetResult();

        // The try under way set out with the old chain: delivered. The next one meets the new chain.
        (await first.ExpectMsgAsync<Answered>()).Answer.Dispose();
        node.Tell(new NodeActor.Forward(Post()));
        Assert.Equal("all200", (await ExpectMsgAsync<Overloaded>()).Rule);

        // The old chain's actors stop once no try needs them; the new ones have their own names.
        await AwaitAssertAsync(async () =>
            await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection(node.Path / "classifier-shed").ResolveOne(TimeSpan.FromSeconds(1))));
        Assert.False((await Sys.ActorSelection(node.Path / "classifier-all200@1").ResolveOne(TimeSpan.FromSeconds(3))).IsNobody());
    }

    [Fact]
    public async Task A_launched_try_answers_its_requester_and_the_node_counts_it()
    {
        var (node, launcher) = await StartLaunchedNode(_backend.Address, ClassifierSpec.DefaultChain);

        Assert.True(launcher.TryLaunch(Post(), 0, TestActor));

        var answered = await ExpectMsgAsync<Answered>();
        Assert.Equal(node, LastSender);
        answered.Answer.Dispose();
        await AwaitAssertAsync(async () =>
        {
            var state = await StateOf(node);
            Assert.Equal(1, state.Requests);
            Assert.Equal(0, state.InFlight);
        });
    }

    [Fact]
    public async Task A_launched_try_that_meets_the_overload_fault_marks_the_node()
    {
        var (node, launcher) = await StartLaunchedNode(_backend.Address, ClassifierSpec.DefaultChain);
        _backend.Overload();

        Assert.True(launcher.TryLaunch(Post(), 0, TestActor));

        Assert.Equal("xmlrpc-overload", (await ExpectMsgAsync<Overloaded>()).Rule);
        var state = await StateOf(node);
        Assert.Equal(NodeHealth.Overloaded, state.State);
        Assert.Equal(1, state.Overloads);
    }

    [Fact]
    public async Task A_launched_try_under_way_keeps_the_chain_it_set_out_with_when_the_chain_is_replaced()
    {
        var gate = new TaskCompletionSource();
        await using var slow = await StartHeldNode(gate.Task);
        ClassifierSpec[] old = [new("shed", StatusClassifier.Props("shed", Verdict.Overloaded, [503]))];
        ClassifierSpec[] next = [new("all200", StatusClassifier.Props("all200", Verdict.Overloaded, [200]))];
        var (node, launcher) = await StartLaunchedNode(slow.Address, old);
        var first = CreateTestProbe();
        Assert.True(launcher.TryLaunch(Post(), 0, first.Ref));
        await AwaitAssertAsync(() => Assert.Equal(1, slow.Hits));

        node.Tell(new NodeActor.ReplaceClassifiers(next));
        gate.SetResult();

        (await first.ExpectMsgAsync<Answered>()).Answer.Dispose();
        Assert.True(launcher.TryLaunch(Post(), 0, TestActor));
        Assert.Equal("all200", (await ExpectMsgAsync<Overloaded>()).Rule);
        await AwaitAssertAsync(async () =>
            await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection(node.Path / "classifier-shed").ResolveOne(TimeSpan.FromSeconds(1))));
    }

    [Fact]
    public async Task A_stopped_node_launches_nothing_so_requesters_send_it_their_tries()
    {
        var (node, launcher) = await StartLaunchedNode(_backend.Address, ClassifierSpec.DefaultChain);
        Watch(node);

        Sys.Stop(node);
        await ExpectTerminatedAsync(node);

        Assert.False(launcher.TryLaunch(Post(), 0, TestActor));
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task An_answer_whose_rule_never_gives_its_verdict_is_delivered_unjudged_after_the_judging_limit()
    {
        using var gate = new ManualResetEventSlim();
        var settings = new NodeSettings("n1", NodeAddress.Parse(_backend.Address), 128);
        var forwarder = new NodeForwarder(settings, ForwardingSettings.Default);
        _forwarders.Add(forwarder);
        ClassifierSpec[] stuck = [new("stuck", Props.Create(() => new StuckClassifier(gate)))];
        var services = new NodeServices(HealthSettings.Default, _balancer, CreateTestProbe().Ref, NullProxyMetrics.Instance) { JudgingLimit = TimeSpan.FromMilliseconds(300) };
        var node = Sys.ActorOf(NodeActor.Props(0, settings, forwarder, stuck, services));
        try
        {
            node.Tell(new NodeActor.Forward(Post()));
            (await ExpectMsgAsync<Answered>(TimeSpan.FromSeconds(10))).Answer.Dispose();

            // The stuck lane is left alone: the next answer waits in another lane, and is delivered too.
            node.Tell(new NodeActor.Forward(Post()));
            (await ExpectMsgAsync<Answered>(TimeSpan.FromSeconds(10))).Answer.Dispose();
            Assert.Equal(0, (await StateOf(node)).InFlight);
        }
        finally
        {
            gate.Set();
        }

        // The late verdicts change nothing: no second outcome for a try already answered.
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(300));
    }

    // A plugin rule that blocks in Matches, which the contract forbids and a real plugin may still do.
    private sealed class StuckClassifier(ManualResetEventSlim gate) : ClassifierActor("stuck", Verdict.Overloaded)
    {
        protected override bool Matches(IAnswerView answer)
        {
            gate.Wait(TimeSpan.FromSeconds(30));
            return true;
        }

        protected override string Describe() => "blocks";
    }

    [Fact]
    public async Task A_healthy_answer_is_delivered_with_its_body()
    {
        var node = StartNode(_backend.Address, CreateTestProbe().Ref);

        node.Tell(new NodeActor.Forward(Post()));

        var answered = await ExpectMsgAsync<Answered>();
        using var answer = answered.Answer;
        Assert.Equal(200, answer.Status);
        Assert.True(answer.Complete);
        Assert.Contains("n1", Encoding.UTF8.GetString(answer.Buffered.Span), StringComparison.Ordinal);
        Assert.Equal("<methodCall/>", Encoding.UTF8.GetString(Assert.Single(_backend.Received).Body));
    }

    [Fact]
    public async Task An_overload_fault_marks_the_node_and_drops_its_weight_at_once()
    {
        var restorer = CreateTestProbe();
        var node = StartNode(_backend.Address, restorer.Ref);
        _backend.Overload();

        node.Tell(new NodeActor.Forward(Post()));

        Assert.Equal("xmlrpc-overload", (await ExpectMsgAsync<Overloaded>()).Rule);
        Assert.Equal(node, (await restorer.ExpectMsgAsync<WeightRestorer.Marked>()).Node);
        var state = await StateOf(node);
        Assert.Equal(NodeHealth.Overloaded, state.State);
        Assert.Equal(WeightSteps.Marked, state.Weight);
        Assert.Equal(1, state.Overloads);
        Assert.Equal([WeightSteps.Marked], _balancer.Weights);
    }

    [Fact]
    public async Task Restore_steps_bring_the_node_back_to_healthy_and_release_it_from_the_restorer()
    {
        var restorer = CreateTestProbe();
        var node = StartNode(_backend.Address, restorer.Ref);
        _backend.Overload();
        node.Tell(new NodeActor.Forward(Post()));
        await ExpectMsgAsync<Overloaded>();
        await restorer.ExpectMsgAsync<WeightRestorer.Marked>();

        var weights = new List<int>();
        for (var step = 0; step < 4; step++)
        {
            node.Tell(WeightRestorer.RaiseWeight.Instance, restorer.Ref);
            weights.Add((await StateOf(node)).Weight);
        }

        Assert.Equal([33, 65, 97, 128], weights);
        Assert.Equal(node, (await restorer.ExpectMsgAsync<WeightRestorer.Restored>()).Node);
        Assert.Equal(NodeHealth.Healthy, (await StateOf(node)).State);
        Assert.Equal([128], _balancer.Weights);
    }

    [Fact]
    public async Task A_node_that_refuses_connections_fails_the_try_as_never_reached()
    {
        var node = StartNode($"http://127.0.0.1:{FreePort.Next()}", CreateTestProbe().Ref);

        node.Tell(new NodeActor.Forward(Post()));

        var failed = await ExpectMsgAsync<Failed>();
        Assert.Equal(FailureKind.Refused, failed.Kind);
        Assert.False(failed.ReachedNode);
        Assert.Equal(1, (await StateOf(node)).Failures);
    }

    [Fact]
    public async Task Consecutive_failures_open_the_circuit_and_take_the_node_out_of_rotation()
    {
        var node = StartNode($"http://127.0.0.1:{FreePort.Next()}", CreateTestProbe().Ref, new HealthSettings(4, 2, TimeSpan.FromMinutes(5)));

        node.Tell(new NodeActor.Forward(Post()));
        await ExpectMsgAsync<Failed>();
        node.Tell(new NodeActor.Forward(Post()));
        await ExpectMsgAsync<Failed>();

        var state = await StateOf(node);
        Assert.Equal(NodeHealth.Open, state.State);
        Assert.Equal(0, state.Weight);
        Assert.Equal([0], _balancer.Weights);
    }

    [Fact]
    public async Task A_node_actor_that_crashes_while_concluding_a_failed_try_still_answers_its_requester()
    {
        var node = StartNode($"http://127.0.0.1:{FreePort.Next()}", CreateTestProbe().Ref, metrics: new FailingMetrics());

        node.Tell(new NodeActor.Forward(Post()));

        var failed = await ExpectMsgAsync<Failed>();
        Assert.Contains("metrics broke", failed.Reason, StringComparison.Ordinal);
        Assert.Equal(NodeHealth.Healthy, (await StateOf(node)).State);
    }

    [Fact]
    public async Task An_answer_no_rule_judges_reaches_its_requester_even_when_the_node_actor_crashes_concluding_it()
    {
        var node = StartNode(_backend.Address, CreateTestProbe().Ref, metrics: new FailingMetrics());

        node.Tell(new NodeActor.Forward(Post()));

        // The requester has the answer before the node's side of the try is concluded.
        using var answer = (await ExpectMsgAsync<Answered>()).Answer;
        Assert.Equal(200, answer.Status);

        // The crash restarted the actor, which serves the next try.
        node.Tell(new NodeActor.Forward(Post()));
        (await ExpectMsgAsync<Answered>()).Answer.Dispose();
        Assert.Equal(NodeHealth.Healthy, (await StateOf(node)).State);
    }

    [Fact]
    public async Task A_unix_socket_node_is_reached_through_its_socket()
    {
        var path = Path.Combine(Path.GetTempPath(), $"proxy-test-{Guid.NewGuid():N}.sock");
        await using var unixNode = await TestNode.StartAsync("unix", path);
        var node = StartNode(unixNode.Address, CreateTestProbe().Ref);

        node.Tell(new NodeActor.Forward(Post()));

        using var answer = (await ExpectMsgAsync<Answered>()).Answer;
        Assert.Contains("unix", Encoding.UTF8.GetString(answer.Buffered.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_try_whose_client_left_ends_as_client_gone_and_the_next_tries_are_unaffected()
    {
        var node = StartNode(_backend.Address, CreateTestProbe().Ref);
        using var left = new CancellationTokenSource();
        await left.CancelAsync();

        node.Tell(new NodeActor.Forward(new ProxyRequest(1, "GET", "/", [], RequestBody.None, left.Token)));
        Assert.Equal(FailureKind.ClientGone, (await ExpectMsgAsync<Failed>()).Kind);

        // Tries reuse their deadline sources: a cancelled one must never be handed to a later try.
        for (var i = 0; i < 3; i++)
        {
            node.Tell(new NodeActor.Forward(Post()));
            (await ExpectMsgAsync<Answered>()).Answer.Dispose();
        }

        Assert.Equal(NodeHealth.Healthy, (await StateOf(node)).State);
    }
}

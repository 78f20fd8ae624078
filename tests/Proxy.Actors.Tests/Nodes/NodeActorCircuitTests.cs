using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Microsoft.AspNetCore.Http;
using Proxy.Actors.Classification;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Nodes;

/// <summary>The circuit's break timer on the TestScheduler: the break passes when the test says so, not in real time.</summary>
public sealed class NodeActorCircuitTests() : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\""), IAsyncLifetime
{
    private static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(3);

    // The node under test is slot 0; two siblings at full weight share the schedule with it.
    private readonly NodeBalancer _balancer = new([128, 128, 128]);
    private TestNode _backend = null!;
    private NodeForwarder? _forwarder;

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    public async Task InitializeAsync() => _backend = await TestNode.StartAsync("n1");

    public async Task DisposeAsync()
    {
        _forwarder?.Dispose();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Consecutive_failures_open_the_circuit_and_once_the_break_has_passed_a_half_open_probe_closes_it()
    {
        _backend.Handle(ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return Task.CompletedTask;
        });
        var node = StartNode(new HealthSettings(4, 2, BreakDuration));

        for (var i = 0; i < 2; i++)
        {
            node.Tell(new NodeActor.Forward(Post()));
            Assert.Equal(FailureKind.Classified, (await ExpectMsgAsync<Failed>()).Kind);
        }

        var opened = await StateOf(node);
        Assert.Equal((NodeHealth.Open, 0), (opened.State, opened.Weight));

        _backend.Recover();
        Scheduler.Advance(BreakDuration - TimeSpan.FromMilliseconds(1));
        Assert.Equal(NodeHealth.Open, (await StateOf(node)).State);
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(NodeHealth.HalfOpen, (await StateOf(node)).State);

        // Weight 1 beside full-weight siblings, yet the next pick is its probe, not the 257th.
        Assert.Equal(0, _balancer.Pick([]));

        // The probe is delivered: the circuit closes and the node restores its weight from one.
        node.Tell(new NodeActor.Forward(Post()));
        (await ExpectMsgAsync<Answered>()).Answer.Dispose();
        Assert.Equal(NodeHealth.Restoring, (await StateOf(node)).State);
    }

    private IActorRef StartNode(HealthSettings health)
    {
        var settings = new NodeSettings("n1", NodeAddress.Parse(_backend.Address), 128);
        _forwarder = new NodeForwarder(settings, ForwardingSettings.Default);
        ClassifierSpec[] chain = [new("errors", StatusClassifier.Props("errors", Verdict.Failed, [500]))];
        var services = new NodeServices(health, _balancer, CreateTestProbe().Ref, NullProxyMetrics.Instance);
        return Sys.ActorOf(NodeActor.Props(0, settings, _forwarder, chain, services));
    }

    private static ProxyRequest Post() =>
        new(1, "POST", "/RPC2", [new("Content-Type", "text/xml")], new BufferedBody(Encoding.UTF8.GetBytes("<methodCall/>")), CancellationToken.None);

    private async Task<NodeStateReport> StateOf(IActorRef node) =>
        await node.Ask<NodeStateReport>(NodeActor.GetNodeState.Instance, TimeSpan.FromSeconds(3));
}

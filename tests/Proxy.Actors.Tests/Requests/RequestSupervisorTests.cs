using System.Net;
using Akka.Actor;
using Akka.Routing;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Requests;

// On the TestScheduler: the idle trim's timer fires when a test advances the clock, never by itself.
public sealed class RequestSupervisorTests() : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"")
{
    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    [Fact]
    public async Task Requests_wait_for_the_node_roster_and_a_failing_request_actor_is_stopped_with_a_502()
    {
        var nodeSupervisor = CreateTestProbe();
        var node = CreateTestProbe();
        var supervisor = Sys.ActorOf(RequestSupervisor.Props(
            nodeSupervisor.Ref, new RequestSettings(1, TimeSpan.FromSeconds(1)), new NodeBalancer([1])));

        var outcome = Dispatch(supervisor, 7);
        await nodeSupervisor.ExpectMsgAsync<NodeSupervisor.GetRoster>();
        await node.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
        nodeSupervisor.Reply(new NodeRoster([node.Ref], ["n"]));
        await node.ExpectMsgAsync<NodeActor.Forward>();

        // Kill makes the RequestActor fail; the supervisor stops it (a restart would resend the request).
        node.LastSender.Tell(Kill.Instance);

        var refused = Assert.IsType<Refused>(await outcome.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(502, refused.Status);

        // The failed actor is not handed out again: the next request gets a new one.
        var failed = node.LastSender;
        _ = Dispatch(supervisor, 8);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        Assert.NotEqual(failed, node.LastSender);
    }

    [Fact]
    public async Task A_finished_request_actor_takes_the_next_request_and_only_as_many_start_as_run_at_once()
    {
        var node = CreateTestProbe();
        var supervisor = Sys.ActorOf(RequestSupervisor.Props(Roster(node), new RequestSettings(1, TimeSpan.FromSeconds(1)), new NodeBalancer([1])));

        var first = Dispatch(supervisor, 1);
        var second = Dispatch(supervisor, 2);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        var firstActor = node.LastSender;
        await node.ExpectMsgAsync<NodeActor.Forward>();
        var secondActor = node.LastSender;
        Assert.NotEqual(firstActor, secondActor);
        firstActor.Tell(new Answered("n", Answer()), node.Ref);
        secondActor.Tell(new Answered("n", Answer()), node.Ref);
        await first.WaitAsync(TimeSpan.FromSeconds(5));
        await second.WaitAsync(TimeSpan.FromSeconds(5));
        await AwaitAssertAsync(async () => Assert.Equal("inFlight=0 idle=2", (await DescribeAsync(supervisor)).State));

        // Three more, one after another: each is served by one of the two idle actors.
        for (var id = 3; id <= 5; id++)
        {
            var outcome = Dispatch(supervisor, id);
            await node.ExpectMsgAsync<NodeActor.Forward>();
            Assert.Contains(node.LastSender, new[] { firstActor, secondActor });
            node.Reply(new Answered("n", Answer()));
            Assert.IsType<Delivered>(await outcome.WaitAsync(TimeSpan.FromSeconds(5)));
        }

        Assert.Equal(2, (await DescribeAsync(supervisor)).Children.Count);
    }

    [Fact]
    public async Task An_idle_request_actor_stopped_from_outside_is_not_handed_out_again()
    {
        var node = CreateTestProbe();
        var supervisor = Sys.ActorOf(RequestSupervisor.Props(Roster(node), new RequestSettings(1, TimeSpan.FromSeconds(1)), new NodeBalancer([1])));
        var first = Dispatch(supervisor, 1);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        var stopped = node.LastSender;
        node.Reply(new Answered("n", Answer()));
        await first.WaitAsync(TimeSpan.FromSeconds(5));
        await AwaitAssertAsync(async () => Assert.Equal("inFlight=0 idle=1", (await DescribeAsync(supervisor)).State));

        Watch(stopped);
        Sys.Stop(stopped);
        await ExpectTerminatedAsync(stopped);
        await AwaitAssertAsync(async () => Assert.Equal("inFlight=0 idle=0", (await DescribeAsync(supervisor)).State));

        var next = Dispatch(supervisor, 2);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        Assert.NotEqual(stopped, node.LastSender);
        node.Reply(new Answered("n", Answer()));
        Assert.IsType<Delivered>(await next.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Request_actors_left_idle_through_an_interval_are_stopped()
    {
        var node = CreateTestProbe();
        var settings = new RequestSettings(1, TimeSpan.FromSeconds(1)) { IdleTrim = TimeSpan.FromSeconds(30) };
        var supervisor = Sys.ActorOf(RequestSupervisor.Props(Roster(node), settings, new NodeBalancer([1])));

        var outcome = Dispatch(supervisor, 1);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        var idle = node.LastSender;
        Watch(idle);
        node.Reply(new Answered("n", Answer()));
        await outcome.WaitAsync(TimeSpan.FromSeconds(5));
        await AwaitAssertAsync(async () => Assert.Equal("inFlight=0 idle=1", (await DescribeAsync(supervisor)).State));

        // Idle through two whole intervals (during the first, it was busy for a while): stopped.
        Scheduler.Advance(settings.IdleTrim);
        Scheduler.Advance(settings.IdleTrim);
        await ExpectTerminatedAsync(idle, TimeSpan.FromSeconds(5));
        await AwaitAssertAsync(async () => Assert.Equal("inFlight=0 idle=0", (await DescribeAsync(supervisor)).State));

        // A request after the trim starts a new RequestActor.
        var next = Dispatch(supervisor, 2);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        node.Reply(new Answered("n", Answer()));
        Assert.IsType<Delivered>(await next.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task The_pool_spreads_requests_over_its_shards_and_a_failed_shard_fails_only_its_own_requests()
    {
        var node = CreateTestProbe();
        var pool = Sys.ActorOf(RequestSupervisor.PoolProps(
            Roster(node), new RequestSettings(1, TimeSpan.FromSeconds(1)), new NodeBalancer([1]), shards: 2));

        var first = Dispatch(pool, 1);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        var firstShard = node.LastSender.Path.Parent;
        var second = Dispatch(pool, 2);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        var secondRequest = node.LastSender;
        Assert.NotEqual(firstShard, secondRequest.Path.Parent);

        // The second request's shard fails: it is restarted, its request answered 502; the
        // other shard's request is still waiting for its node, and new requests still flow.
        var shards = (await pool.Ask<Routees>(GetRoutees.Instance, TimeSpan.FromSeconds(3))).Members.OfType<ActorRefRoutee>().Select(r => r.Actor);
        shards.Single(s => s.Path == secondRequest.Path.Parent).Tell(Kill.Instance);
        Assert.Equal(502, Assert.IsType<Refused>(await second.WaitAsync(TimeSpan.FromSeconds(5))).Status);
        Assert.False(first.IsCompleted);

        _ = Dispatch(pool, 3);
        _ = Dispatch(pool, 4);
        await node.ExpectMsgAsync<NodeActor.Forward>();
        await node.ExpectMsgAsync<NodeActor.Forward>();
    }

    // A node supervisor that answers every roster request with this one node, named "n".
    private IActorRef Roster(TestProbe node)
    {
        var nodeSupervisor = CreateTestProbe();
        nodeSupervisor.SetAutoPilot(new DelegateAutoPilot((sender, _) =>
        {
            sender.Tell(new NodeRoster([node.Ref], ["n"]));
            return AutoPilot.KeepRunning;
        }));
        return nodeSupervisor.Ref;
    }

    private static UpstreamAnswer Answer() => new(new HttpResponseMessage(HttpStatusCode.OK), null, 0, complete: true, rest: null);

    private Task<ActorDescription> DescribeAsync(IActorRef supervisor) =>
        supervisor.Ask<ActorDescription>(DescribeActor.Instance, TimeSpan.FromSeconds(3));

    private static Task<RequestOutcome> Dispatch(IActorRef requests, long id)
    {
        var completion = new TaskCompletionSource<RequestOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        requests.Tell(new RequestSupervisor.Dispatch(new ProxyRequest(id, "GET", "/", [], RequestBody.None, CancellationToken.None), completion));
        return completion.Task;
    }
}

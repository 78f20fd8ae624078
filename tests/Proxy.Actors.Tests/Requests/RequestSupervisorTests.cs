using Akka.Actor;
using Akka.Routing;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Requests;

public sealed class RequestSupervisorTests : TestKit
{
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
        Assert.Equal("request-7", node.LastSender.Path.Name);
    }

    [Fact]
    public async Task The_pool_spreads_requests_over_its_shards_and_a_failed_shard_fails_only_its_own_requests()
    {
        var node = CreateTestProbe();
        var nodeSupervisor = CreateTestProbe();
        nodeSupervisor.SetAutoPilot(new DelegateAutoPilot((sender, _) =>
        {
            sender.Tell(new NodeRoster([node.Ref], ["n"]));
            return AutoPilot.KeepRunning;
        }));
        var pool = Sys.ActorOf(RequestSupervisor.PoolProps(
            nodeSupervisor.Ref, new RequestSettings(1, TimeSpan.FromSeconds(1)), new NodeBalancer([1]), shards: 2));

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

    private static Task<RequestOutcome> Dispatch(IActorRef requests, long id)
    {
        var completion = new TaskCompletionSource<RequestOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        requests.Tell(new RequestSupervisor.Dispatch(new ProxyRequest(id, "GET", "/", [], RequestBody.None, CancellationToken.None), completion));
        return completion.Task;
    }
}

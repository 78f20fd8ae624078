using Akka.Actor;
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
        var completion = new TaskCompletionSource<RequestOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);

        supervisor.Tell(new RequestSupervisor.Dispatch(new ProxyRequest(7, "GET", "/", [], RequestBody.None, CancellationToken.None), completion));
        await nodeSupervisor.ExpectMsgAsync<NodeSupervisor.GetRoster>();
        await node.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));
        nodeSupervisor.Reply(new NodeRoster([node.Ref], ["n"]));
        await node.ExpectMsgAsync<NodeActor.Forward>();

        // Kill makes the RequestActor fail; the supervisor stops it (a restart would resend the request).
        node.LastSender.Tell(Kill.Instance);

        var refused = Assert.IsType<Refused>(await completion.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(502, refused.Status);
        Assert.Equal("request-7", node.LastSender.Path.Name);
    }
}

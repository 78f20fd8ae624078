using System.Net;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Nodes;
using Xunit;

namespace Proxy.Actors.Tests.Nodes;

public sealed class NodeDiscoveryTests : TestKit
{
    private static readonly NodeSettings Template = new("api", NodeAddress.Parse("http://api.internal:8001/rpc"), 64);

    // The first lookup waits for the actor to start and for the scheduler's first tick: while the
    // whole suite starts its actor systems at once on a 2-core CI machine, that once took over the
    // default 3 s. How long to wait at most, not how fast it must be.
    private static readonly TimeSpan FirstLookup = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_node_per_record_is_added_and_one_whose_record_vanishes_is_removed_and_a_failed_lookup_changes_nothing()
    {
        var supervisor = CreateTestProbe();
        var answers = new Queue<Func<Task<IPAddress[]>>>(
        [
            () => Task.FromResult(new[] { IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2") }),
            () => Task.FromException<IPAddress[]>(new System.Net.Sockets.SocketException(11001)),
            () => Task.FromResult(new[] { IPAddress.Parse("10.0.0.2"), IPAddress.Parse("fd00::3") }),
        ]);
        Sys.ActorOf(NodeDiscovery.Props(Template, TimeSpan.FromMilliseconds(100), supervisor.Ref, host =>
        {
            Assert.Equal("api.internal", host);
            return answers.Count > 0 ? answers.Dequeue()() : Task.FromResult(new[] { IPAddress.Parse("10.0.0.2"), IPAddress.Parse("fd00::3") });
        }));

        var first = new[] { supervisor.ExpectMsg<NodeSupervisor.AddNode>(FirstLookup).Node, supervisor.ExpectMsg<NodeSupervisor.AddNode>().Node };
        Assert.Equal(["api@10.0.0.1", "api@10.0.0.2"], first.Select(n => n.Name).Order(StringComparer.Ordinal));
        Assert.Contains(first, n => n.Address.Original == "http://10.0.0.1:8001/rpc" && n.Weight == 64);

        // The failed lookup in between removed nothing; the next one swaps 10.0.0.1 for fd00::3,
        // adding before it removes.
        var added = supervisor.ExpectMsg<NodeSupervisor.AddNode>().Node;
        Assert.Equal("api@fd00::3", added.Name);
        Assert.Equal("http://[fd00::3]:8001/rpc", added.Address.Original);
        Assert.Equal("api@10.0.0.1", supervisor.ExpectMsg<NodeSupervisor.RemoveNode>().Name);
        supervisor.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_record_whose_node_could_not_be_added_yet_is_added_on_the_next_lookup()
    {
        var supervisor = CreateTestProbe();
        var discovery = Sys.ActorOf(NodeDiscovery.Props(Template, TimeSpan.FromMilliseconds(100), supervisor.Ref, _ => Task.FromResult(new[] { IPAddress.Parse("10.0.0.1") })));

        // A flap: the node of that name is still finishing its tries, so the supervisor refuses it.
        var first = supervisor.ExpectMsg<NodeSupervisor.AddNode>(FirstLookup);
        discovery.Tell(new NodeSupervisor.NodeChangeRefused(first.Node.Name, NodeChangeRefusal.Exists, "still finishing"), supervisor.Ref);

        Assert.Equal("api@10.0.0.1", supervisor.ExpectMsg<NodeSupervisor.AddNode>().Node.Name);
    }
}

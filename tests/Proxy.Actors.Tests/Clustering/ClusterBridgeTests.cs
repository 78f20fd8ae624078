using Akka.Actor;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Clustering;
using Proxy.Actors.Nodes;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Clustering;

public sealed class ClusterBridgeTests : TestKit
{
    private const string Us = "run-2";
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(2);

    private static NodeMark Mark(NodeMarkKind kind, long at, string writer = "run-other", int weight = 0) =>
        new(kind, weight, at, "akka.tcp://proxy@10.0.0.9:4053", writer);

    private static long UnixNow => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    // The bridge addresses NodeActors by selection under nodesPath: a probe stands in for the node.
    private (IActorRef Bridge, Akka.TestKit.TestProbe Node) Start()
    {
        var node = CreateTestProbe();
        var parent = Sys.ActorOf(Props.Create(() => new Nodes(node.Ref)), "nodes-" + Guid.NewGuid().ToString("N"));
        // The parent builds n1 as it starts: wait for it, or a selection could find nobody yet.
        AwaitAssert(() => Assert.False(Sys.ActorSelection(parent.Path / "n1").ResolveOne(TimeSpan.FromSeconds(1)).Result.IsNobody()));
        var bridge = Sys.ActorOf(ClusterBridge.Props(Us, new HashSet<string> { "n1" }, parent.Path.ToStringWithoutAddress(), Lifetime));
        return (bridge, node);
    }

    private static ClusterBridge.Replicated Map(params NodeMark[] marks) =>
        new(marks.Select(m => new ClusterBridge.ReplicatedMark("n1", m)).ToArray());

    [Fact]
    public void A_late_joiner_learns_a_drain_and_a_later_overload_as_two_marks_drain_first()
    {
        var (bridge, node) = Start();
        var now = UnixNow;

        bridge.Tell(Map(Mark(NodeMarkKind.Overloaded, now), Mark(NodeMarkKind.Drained, now - 1000)));

        Assert.Equal(NodeMarkKind.Drained, node.ExpectMsg<NodeActor.Adopt>().Mark.Kind);
        Assert.Equal(NodeMarkKind.Overloaded, node.ExpectMsg<NodeActor.Adopt>().Mark.Kind);
    }

    [Fact]
    public void Marks_this_run_made_are_not_adopted_again_but_a_previous_runs_are()
    {
        var (bridge, node) = Start();
        var now = UnixNow;

        bridge.Tell(Map(Mark(NodeMarkKind.Drained, now, writer: Us)));
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        bridge.Tell(Map(Mark(NodeMarkKind.Drained, now + 1, writer: "run-1")));
        Assert.Equal("run-1", node.ExpectMsg<NodeActor.Adopt>().Mark.Writer);
    }

    [Fact]
    public void The_same_map_read_again_by_a_new_incarnation_changes_nothing()
    {
        var (bridge, node) = Start();
        var map = Map(Mark(NodeMarkKind.Overloaded, UnixNow));

        bridge.Tell(map);
        node.ExpectMsg<NodeActor.Adopt>();
        bridge.Tell(new ClusterBridge.MembershipUp(CreateTestProbe().Ref, "akka.tcp://proxy@127.0.0.1:4053"));
        bridge.Tell(map);

        node.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void An_older_mark_of_a_subject_never_replaces_a_newer_one()
    {
        var (bridge, node) = Start();
        var now = UnixNow;

        bridge.Tell(Map(Mark(NodeMarkKind.Enabled, now)));
        node.ExpectMsg<NodeActor.Adopt>();
        bridge.Tell(Map(Mark(NodeMarkKind.Drained, now - 10)));

        node.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void An_overload_mark_older_than_its_lifetime_is_not_revived_but_a_drain_of_any_age_is()
    {
        var (bridge, node) = Start();
        var old = UnixNow - (long)Lifetime.TotalMilliseconds - 1000;

        bridge.Tell(Map(Mark(NodeMarkKind.Overloaded, old), Mark(NodeMarkKind.Drained, old)));

        Assert.Equal(NodeMarkKind.Drained, node.ExpectMsg<NodeActor.Adopt>().Mark.Kind);
        node.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void An_enable_that_brought_a_node_back_from_a_drain_is_eased_in_only_while_its_return_can_still_be_running()
    {
        var (bridge, node) = Start();
        var old = UnixNow - (long)Lifetime.TotalMilliseconds - 1000;

        bridge.Tell(Map(Mark(NodeMarkKind.Enabled, UnixNow, weight: WeightSteps.Marked)));
        Assert.Equal(WeightSteps.Marked, node.ExpectMsg<NodeActor.Adopt>().Mark.Weight);

        var (lateBridge, lateNode) = Start();
        lateBridge.Tell(Map(Mark(NodeMarkKind.Enabled, old, weight: WeightSteps.Marked)));
        var adopted = lateNode.ExpectMsg<NodeActor.Adopt>().Mark;
        Assert.Equal(NodeMarkKind.Enabled, adopted.Kind);
        Assert.Equal(0, adopted.Weight);
    }

    [Fact]
    public void A_new_incarnation_is_given_every_mark_this_side_knows_with_its_original_time_and_writer()
    {
        var (bridge, _) = Start();
        var replicator = CreateTestProbe();
        var adopted = Mark(NodeMarkKind.WeightSet, UnixNow - 5000, weight: 7);
        bridge.Tell(Map(adopted));
        bridge.Tell(new ClusterBridge.Observed("n1", NodeMark.Now(NodeMarkKind.Drained)));

        bridge.Tell(new ClusterBridge.MembershipUp(replicator.Ref, "akka.tcp://proxy@127.0.0.1:4053"));

        var shared = new[] { replicator.ExpectMsg<NodeHealthReplicator.Share>(), replicator.ExpectMsg<NodeHealthReplicator.Share>() };
        Assert.Contains(shared, s => s.Mark == adopted);
        Assert.Contains(shared, s => s.Mark.Kind == NodeMarkKind.Drained && s.Mark.Writer == Us);
    }

    [Fact]
    public void An_operator_decision_made_here_wins_over_a_mark_dated_in_the_future()
    {
        var (bridge, node) = Start();
        var replicator = CreateTestProbe();
        bridge.Tell(new ClusterBridge.MembershipUp(replicator.Ref, "akka.tcp://proxy@127.0.0.1:4053"));
        var future = UnixNow + (long)TimeSpan.FromDays(365 * 100).TotalMilliseconds;
        bridge.Tell(Map(Mark(NodeMarkKind.Drained, future)));
        node.ExpectMsg<NodeActor.Adopt>();

        bridge.Tell(new ClusterBridge.Observed("n1", NodeMark.Now(NodeMarkKind.Enabled)));

        var shared = replicator.ExpectMsg<NodeHealthReplicator.Share>();
        Assert.Equal(NodeMarkKind.Enabled, shared.Mark.Kind);
        Assert.True(shared.Mark.Supersedes(Mark(NodeMarkKind.Drained, future)));
    }

    [Fact]
    public void A_mark_forged_at_the_end_of_time_does_not_wrap_an_operator_decision_made_here_into_the_past()
    {
        var (bridge, node) = Start();
        var replicator = CreateTestProbe();
        bridge.Tell(new ClusterBridge.MembershipUp(replicator.Ref, "akka.tcp://proxy@127.0.0.1:4053"));
        bridge.Tell(Map(Mark(NodeMarkKind.Drained, long.MaxValue)));
        node.ExpectMsg<NodeActor.Adopt>();

        bridge.Tell(new ClusterBridge.Observed("n1", NodeMark.Now(NodeMarkKind.Enabled)));

        var shared = replicator.ExpectMsg<NodeHealthReplicator.Share>();
        Assert.Equal(long.MaxValue, shared.Mark.AtUnixMs);
        Assert.True(shared.Mark.Supersedes(Mark(NodeMarkKind.Drained, long.MaxValue)));
    }

    private sealed class Nodes : ReceiveActor
    {
        public Nodes(IActorRef n1) => Context.ActorOf(Props.Create(() => new Forwarder(n1)), "n1");
    }

    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef target)
        {
            ReceiveAny(m => target.Forward(m));
        }
    }
}

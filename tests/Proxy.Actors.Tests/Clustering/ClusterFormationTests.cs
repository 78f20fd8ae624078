using Akka.Actor;
using Akka.Cluster;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Clustering;
using Xunit;

namespace Proxy.Actors.Tests.Clustering;

public sealed class ClusterFormationTests() : TestKit(LoopbackCluster.Hocon)
{
    private static readonly TimeSpan Round = TimeSpan.FromMilliseconds(100);

    [Fact]
    public void A_lone_member_founds_a_cluster_and_a_strangers_rejoin_does_not_make_it_give_way()
    {
        var yielded = CreateTestProbe();
        var formation = Sys.ActorOf(ClusterFormation.Props(
            () => Task.FromResult<IReadOnlyList<Address>>([]),
            [],
            members => yielded.Ref.Tell(members),
            Round), "formation");
        AwaitCondition(() => Cluster.Get(Sys).SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));

        // Addresses nobody listens on: a Rejoin only names members to probe, and none answers.
        formation.Tell(new ClusterFormation.Rejoin(["akka.tcp://proxy@127.0.1.1:7599", "akka.tcp://proxy@127.0.1.2:7599", "akka.tcp://proxy@127.0.1.3:7599"]));
        formation.Tell(new ClusterFormation.Introduction("akka.tcp://proxy@127.0.1.1:7599", ["akka.tcp://proxy@127.0.1.1:7599", "akka.tcp://proxy@127.0.1.2:7599"], true));

        yielded.ExpectNoMsg(Round * 30);
        Assert.Equal(MemberStatus.Up, Cluster.Get(Sys).SelfMember.Status);
    }
}

using Akka.Actor;
using Akka.Cluster;
using Akka.Remote;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Clustering;
using Xunit;

namespace Proxy.Actors.Tests.Clustering;

public sealed class IncarnationWatchTests() : TestKit(LoopbackCluster.Hocon)
{
    private static readonly Address Contact = Address.Parse("akka.tcp://proxy@127.0.0.1:7601");
    private static readonly Address Stranger = Address.Parse("akka.tcp://proxy@203.0.113.9:4053");

    private (Akka.TestKit.TestProbe Lost, IActorRef Essential) Start()
    {
        var lost = CreateTestProbe();
        var essential = CreateTestProbe().Ref;
        var self = Cluster.Get(Sys);
        self.Join(self.SelfAddress);
        AwaitCondition(() => self.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));
        Sys.ActorOf(IncarnationWatch.Props(reason => lost.Ref.Tell(reason), [Contact], [essential]));
        return (lost, essential);
    }

    [Fact]
    public void A_quarantine_by_a_stranger_is_ignored_and_one_by_a_member_or_contact_ends_the_incarnation()
    {
        var (lost, _) = Start();
        var self = Cluster.Get(Sys).SelfAddress;

        Sys.EventStream.Publish(new ThisActorSystemQuarantinedEvent(self, Stranger));
        lost.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        Sys.EventStream.Publish(new ThisActorSystemQuarantinedEvent(self, Contact));
        Assert.Equal($"quarantined by {Contact}", lost.ExpectMsg<string>());

        // This member itself is a member of the fleet it saw.
        AwaitAssert(() =>
        {
            Sys.EventStream.Publish(new ThisActorSystemQuarantinedEvent(self, self));
            Assert.Equal($"quarantined by {self}", lost.ExpectMsg<string>(TimeSpan.FromMilliseconds(200)));
        });
    }

    [Fact]
    public void One_of_the_incarnations_own_actors_stopping_ends_it()
    {
        var (lost, essential) = Start();

        // What a PoisonPill sent to /user/node-health through an actor selection would do.
        essential.Tell(PoisonPill.Instance);

        Assert.StartsWith("its actor ", lost.ExpectMsg<string>(), StringComparison.Ordinal);
    }
}

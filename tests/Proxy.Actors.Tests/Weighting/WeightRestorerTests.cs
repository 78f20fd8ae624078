using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Weighting;

public sealed class WeightRestorerTests() : TestKit("akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"")
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    [Fact]
    public async Task A_marked_node_is_asked_to_raise_its_weight_on_every_tick_until_restored()
    {
        var restorer = Sys.ActorOf(WeightRestorer.Props(Interval));
        var node = CreateTestProbe();

        restorer.Tell(new WeightRestorer.Marked(node.Ref));
        await AwaitAssertAsync(async () =>
        {
            var state = await restorer.Ask<WeightRestorer.RestorerState>(WeightRestorer.GetRestorerState.Instance);
            Assert.Single(state.Restoring);
        });
        await node.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(50));

        Scheduler.Advance(Interval);
        await node.ExpectMsgAsync<WeightRestorer.RaiseWeight>();
        Scheduler.Advance(Interval);
        await node.ExpectMsgAsync<WeightRestorer.RaiseWeight>();

        restorer.Tell(new WeightRestorer.Restored(node.Ref));
        await AwaitAssertAsync(async () =>
        {
            var state = await restorer.Ask<WeightRestorer.RestorerState>(WeightRestorer.GetRestorerState.Instance);
            Assert.Empty(state.Restoring);
        });
        Scheduler.Advance(Interval);
        await node.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Every_marked_node_gets_each_tick()
    {
        var restorer = Sys.ActorOf(WeightRestorer.Props(Interval));
        var first = CreateTestProbe();
        var second = CreateTestProbe();

        restorer.Tell(new WeightRestorer.Marked(first.Ref));
        restorer.Tell(new WeightRestorer.Marked(second.Ref));
        await AwaitAssertAsync(async () =>
            Assert.Equal(2, (await restorer.Ask<WeightRestorer.RestorerState>(WeightRestorer.GetRestorerState.Instance)).Restoring.Count));
        Scheduler.Advance(Interval);

        await first.ExpectMsgAsync<WeightRestorer.RaiseWeight>();
        await second.ExpectMsgAsync<WeightRestorer.RaiseWeight>();
    }

    [Fact]
    public async Task A_marked_node_that_stops_is_forgotten()
    {
        var restorer = Sys.ActorOf(WeightRestorer.Props(Interval));
        var node = CreateTestProbe();
        restorer.Tell(new WeightRestorer.Marked(node.Ref));
        await AwaitAssertAsync(async () =>
            Assert.Single((await restorer.Ask<WeightRestorer.RestorerState>(WeightRestorer.GetRestorerState.Instance)).Restoring));

        // A node removed at run time while it was restoring.
        Sys.Stop(node.Ref);

        await AwaitAssertAsync(async () =>
            Assert.Empty((await restorer.Ask<WeightRestorer.RestorerState>(WeightRestorer.GetRestorerState.Instance)).Restoring));
    }
}

using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Weighting;

public sealed class NodeBalancerTests
{
    [Fact]
    public void Healthy_nodes_of_equal_weight_share_traffic_evenly()
    {
        var balancer = new NodeBalancer([128, 128]);

        var picks = Enumerable.Range(0, 1000).Select(_ => balancer.Pick()).ToArray();

        Assert.Equal(500, picks.Count(n => n == 0));
        Assert.Equal(500, picks.Count(n => n == 1));
    }

    [Fact]
    public void A_marked_node_gets_almost_none_of_the_new_traffic()
    {
        var balancer = new NodeBalancer([128, 128]);
        balancer.Publish(0, WeightSteps.Marked);

        var picks = Enumerable.Range(0, 129 * 10).Select(_ => balancer.Pick()).ToArray();

        Assert.Equal(10, picks.Count(n => n == 0));
    }

    [Fact]
    public void When_every_node_is_marked_traffic_still_flows_to_all()
    {
        var balancer = new NodeBalancer([128, 128]);
        balancer.Publish(0, WeightSteps.Marked);
        balancer.Publish(1, WeightSteps.Marked);

        var picks = Enumerable.Range(0, 100).Select(_ => balancer.Pick()).ToArray();

        Assert.Equal(50, picks.Count(n => n == 0));
        Assert.Equal(50, picks.Count(n => n == 1));
    }

    [Fact]
    public void Nodes_out_of_rotation_are_still_picked_when_nothing_else_is_left()
    {
        var balancer = new NodeBalancer([10, 10]);
        balancer.Publish(0, 0);
        balancer.Publish(1, 0);

        Assert.InRange(balancer.Pick(), 0, 1);
        Assert.Equal(1, balancer.Pick([0]));
    }

    [Fact]
    public void A_redispatch_skips_nodes_already_tried()
    {
        var balancer = new NodeBalancer([200, 1, 1]);

        for (var i = 0; i < 50; i++)
        {
            var next = balancer.Pick([0]);
            Assert.NotEqual(0, next);
        }

        Assert.Equal(-1, balancer.Pick([0, 1, 2]));
    }

    [Fact]
    public void A_published_weight_takes_effect_for_the_next_pick()
    {
        var balancer = new NodeBalancer([1, 1]);
        balancer.Publish(1, 0);

        Assert.All(Enumerable.Range(0, 20).Select(_ => balancer.Pick()), n => Assert.Equal(0, n));
        Assert.Equal([1, 0], balancer.Weights);
    }
}

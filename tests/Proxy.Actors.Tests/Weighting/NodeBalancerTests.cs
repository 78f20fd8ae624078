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
    public void A_probe_owed_to_a_half_open_node_is_the_next_pick_that_may_take_it_and_only_that_one()
    {
        var balancer = new NodeBalancer([128, 128, 128]);
        balancer.Publish(1, WeightSteps.Marked);
        balancer.RequestProbe(1);

        // A request that tried node 1 already leaves the probe to the next one.
        Assert.NotEqual(1, balancer.Pick([1]));
        Assert.Equal(1, balancer.Pick());
        var after = Enumerable.Range(0, 257).Select(_ => balancer.Pick()).ToArray();
        Assert.Equal(1, after.Count(n => n == 1));
    }

    [Fact]
    public void A_probe_owed_to_a_node_taken_out_of_rotation_since_is_dropped()
    {
        var balancer = new NodeBalancer([128, 128]);
        balancer.RequestProbe(1);
        balancer.Publish(1, 0);

        Assert.All(Enumerable.Range(0, 100).Select(_ => balancer.Pick()), n => Assert.Equal(0, n));
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
    public void In_a_pool_of_two_thousand_nodes_each_cycle_gives_every_node_exactly_its_weight_and_a_marked_one_one_pick()
    {
        var weights = Enumerable.Repeat(128, 2000).ToArray();
        var balancer = new NodeBalancer(weights);
        balancer.Publish(7, WeightSteps.Marked);
        balancer.Publish(1500, 64);
        var cycle = (1998 * 128) + 1 + 64;

        var counts = new int[2000];
        for (var i = 0; i < cycle; i++)
        {
            counts[balancer.Pick()]++;
        }

        Assert.Equal(1, counts[7]);
        Assert.Equal(64, counts[1500]);
        Assert.All(counts.Where((_, node) => node is not 7 and not 1500), count => Assert.Equal(128, count));
    }

    [Fact]
    public void In_a_large_pool_a_nodes_picks_are_spread_over_the_cycle_not_bunched()
    {
        var balancer = new NodeBalancer(Enumerable.Repeat(128, 1000).ToArray());
        balancer.Publish(0, 1);

        // 1,000 picks in a row: a weight-128 node's share of them is about one, never a run of them.
        var run = Enumerable.Range(0, 1000).Select(_ => balancer.Pick()).ToArray();

        Assert.True(run.Distinct().Count() > 500, $"only {run.Distinct().Count()} distinct nodes in 1,000 picks");
        Assert.True(run.GroupBy(n => n).Max(g => g.Count()) <= 3);
    }

    [Fact]
    public void In_a_large_pool_a_redispatch_skips_the_tried_nodes_and_weight_zero_nodes()
    {
        var balancer = new NodeBalancer(Enumerable.Repeat(128, 1000).ToArray());
        for (var node = 0; node < 1000; node++)
        {
            if (node % 10 != 0)
            {
                balancer.Publish(node, 0);
            }
        }

        balancer.Publish(0, 1);
        int[] tried = [10, 20, 30];
        for (var i = 0; i < 500; i++)
        {
            var pick = balancer.Pick(tried);
            Assert.True(pick % 10 == 0 && !tried.Contains(pick), $"picked {pick}");
        }
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

using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Weighting;

public sealed class SmoothWeightedScheduleTests
{
    [Fact]
    public void Each_node_appears_in_proportion_to_its_weight()
    {
        var schedule = SmoothWeightedSchedule.Build([128, 1, 64]);

        Assert.Equal(193, schedule.Length);
        Assert.Equal(128, schedule.Count(n => n == 0));
        Assert.Equal(1, schedule.Count(n => n == 1));
        Assert.Equal(64, schedule.Count(n => n == 2));
    }

    [Fact]
    public void Heavy_nodes_are_interleaved_not_bunched()
    {
        // The nginx example: weights 5,1,1 give a a b a c a a, never five a's in a row.
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], SmoothWeightedSchedule.Build([5, 1, 1]));
    }

    [Fact]
    public void Equal_weights_reduce_to_plain_round_robin()
    {
        Assert.Equal([0, 1], SmoothWeightedSchedule.Build([128, 128]));
    }

    [Fact]
    public void Nodes_of_weight_zero_never_appear()
    {
        var schedule = SmoothWeightedSchedule.Build([0, 3, 0]);

        Assert.All(schedule, n => Assert.Equal(1, n));
        Assert.Empty(SmoothWeightedSchedule.Build([0, 0]));
    }
}

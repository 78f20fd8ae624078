using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Weighting;

public sealed class WeightStepsTests
{
    [Fact]
    public void A_marked_node_climbs_back_to_its_configured_weight_in_the_configured_steps()
    {
        var weights = new List<int>();
        var weight = WeightSteps.Marked;
        while (weight < 128)
        {
            weight = WeightSteps.Next(weight, configured: 128, steps: 4);
            weights.Add(weight);
        }

        Assert.Equal([33, 65, 97, 128], weights);
    }

    [Fact]
    public void The_weight_never_exceeds_the_configured_weight()
    {
        Assert.Equal(3, WeightSteps.Next(2, configured: 3, steps: 1));
        Assert.Equal(2, WeightSteps.Next(1, configured: 2, steps: 100));
    }
}

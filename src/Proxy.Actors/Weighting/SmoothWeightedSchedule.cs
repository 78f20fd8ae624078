namespace Proxy.Actors.Weighting;

/// <summary>
/// Smooth weighted round-robin (the nginx algorithm) unrolled into one cycle of node indexes, so
/// that picking a node is one array read at a shared cursor instead of a lock or an actor hop.
/// </summary>
internal static class SmoothWeightedSchedule
{
    /// <summary>One full cycle for these weights (reduced by their GCD); nodes of weight 0 never appear.</summary>
    public static int[] Build(ReadOnlySpan<int> weights)
    {
        var divisor = 0;
        foreach (var w in weights)
        {
            if (w < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(weights), "Weights cannot be negative.");
            }

            divisor = Gcd(divisor, w);
        }

        if (divisor == 0)
        {
            return [];
        }

        var reduced = new int[weights.Length];
        var total = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            reduced[i] = weights[i] / divisor;
            total += reduced[i];
        }

        var current = new int[weights.Length];
        var schedule = new int[total];
        for (var slot = 0; slot < total; slot++)
        {
            var best = -1;
            for (var i = 0; i < reduced.Length; i++)
            {
                if (reduced[i] == 0)
                {
                    continue;
                }

                current[i] += reduced[i];
                if (best < 0 || current[i] > current[best])
                {
                    best = i;
                }
            }

            current[best] -= total;
            schedule[slot] = best;
        }

        return schedule;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}

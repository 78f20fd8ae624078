namespace Proxy.Actors.Weighting;

/// <summary>
/// The routing table every RequestActor picks from. NodeActors publish their effective weight here
/// when it changes (rarely); picks read an immutable schedule at a shared cursor (every request),
/// so selection is lock-free and never a single-actor bottleneck.
/// </summary>
public sealed class NodeBalancer
{
    private readonly object _publishGate = new();
    private readonly int[] _weights;
    private volatile Table _table;
    private int _cursor = -1;

    public NodeBalancer(IReadOnlyList<int> initialWeights)
    {
        if (initialWeights.Count == 0)
        {
            throw new ArgumentException("At least one node is required.", nameof(initialWeights));
        }

        _weights = initialWeights.ToArray();
        _table = new Table(SmoothWeightedSchedule.Build(_weights), (int[])_weights.Clone());
    }

    /// <summary>The weights the schedule currently uses (a copy).</summary>
    public IReadOnlyList<int> Weights => _table.Weights;

    /// <summary>Publishes a node's effective weight; 0 takes it out of rotation while others remain.</summary>
    public void Publish(int node, int weight)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        lock (_publishGate)
        {
            if (_weights[node] == weight)
            {
                return;
            }

            _weights[node] = weight;
            _table = new Table(SmoothWeightedSchedule.Build(_weights), (int[])_weights.Clone());
        }
    }

    /// <summary>
    /// The next node by weight, skipping <paramref name="exclude"/> (nodes this request already tried).
    /// When every remaining node has weight 0 it still answers one of them: no self-made outage.
    /// Returns -1 only when every node is excluded.
    /// </summary>
    public int Pick(ReadOnlySpan<int> exclude = default)
    {
        var table = _table;
        var cursor = (uint)Interlocked.Increment(ref _cursor);
        var schedule = table.Schedule;
        if (schedule.Length > 0)
        {
            var start = (int)(cursor % (uint)schedule.Length);
            var node = schedule[start];
            if (!exclude.Contains(node))
            {
                return node;
            }

            // Redispatch: walk on from the cursor for the next eligible node.
            for (var step = 1; step < schedule.Length; step++)
            {
                node = schedule[(start + step) % schedule.Length];
                if (!exclude.Contains(node))
                {
                    return node;
                }
            }
        }

        // Everything left has weight 0 (e.g. every circuit open): rotate over what is left.
        var count = _weights.Length;
        var first = (int)(cursor % (uint)count);
        for (var step = 0; step < count; step++)
        {
            var node = (first + step) % count;
            if (!exclude.Contains(node))
            {
                return node;
            }
        }

        return -1;
    }

    private sealed record Table(int[] Schedule, int[] Weights);
}

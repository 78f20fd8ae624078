namespace Proxy.Actors.Weighting;

/// <summary>
/// The schedule of a large pool: the nodes' weights laid end to end on one line, walked with a
/// step coprime to its length (near the golden ratio of it), so one cycle of picks lands on every
/// unit of weight exactly once, each node's picks spread over the cycle. Building it is linear in
/// the nodes and a pick is a binary search, where the unrolled smooth schedule
/// (<see cref="SmoothWeightedSchedule"/>) costs the sum of the weights times the nodes to build:
/// half a minute for 500 nodes with one marked (weight 1 beside 128s), on every weight change.
/// </summary>
internal sealed class WeightLine
{
    private readonly int[] _ends;
    private readonly int[] _slots;
    private readonly ulong _step;

    private WeightLine(int[] ends, int[] slots, int total)
    {
        _ends = ends;
        _slots = slots;
        Total = total;
        _step = CoprimeStep(total);
    }

    /// <summary>The sum of the weights: the length of one cycle.</summary>
    public int Total { get; }

    /// <summary>The line of these weights (by slot; weight 0 never picked), or null when all are 0.</summary>
    public static WeightLine? Build(ReadOnlySpan<int> weights)
    {
        var count = 0;
        long total = 0;
        foreach (var weight in weights)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(weight, nameof(weights));
            if (weight > 0)
            {
                count++;
                total += weight;
            }
        }

        if (count == 0)
        {
            return null;
        }

        var ends = new int[count];
        var slots = new int[count];
        var end = 0;
        var at = 0;
        for (var slot = 0; slot < weights.Length; slot++)
        {
            if (weights[slot] > 0)
            {
                end += weights[slot];
                ends[at] = end;
                slots[at] = slot;
                at++;
            }
        }

        return new WeightLine(ends, slots, (int)total);
    }

    /// <summary>The slot the cursor's pick lands on.</summary>
    public int SlotAt(uint cursor)
    {
        var position = (int)(cursor * _step % (ulong)Total);

        // The first node whose stretch of the line ends past the position.
        var low = 0;
        var high = _ends.Length - 1;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (_ends[middle] > position)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        return _slots[low];
    }

    /// <summary>The slots with weight, in line order, starting after <paramref name="slot"/>: a redispatch's walk.</summary>
    public int NextAfter(int slot, int step)
    {
        var index = Array.BinarySearch(_slots, slot);
        index = index < 0 ? ~index - 1 : index;
        return _slots[(int)((uint)(index + step) % (uint)_slots.Length)];
    }

    /// <summary>How many slots have weight.</summary>
    public int Count => _slots.Length;

    private static ulong CoprimeStep(int total)
    {
        if (total <= 2)
        {
            return 1;
        }

        var step = (ulong)(total * 0.6180339887498949);
        while (Gcd(step, (ulong)total) != 1)
        {
            step++;
        }

        return step;
    }

    private static ulong Gcd(ulong a, ulong b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}

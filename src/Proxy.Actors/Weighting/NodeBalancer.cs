using Akka.Actor;
using Proxy.Actors.Requests;

namespace Proxy.Actors.Weighting;

/// <summary>
/// The routing table every RequestActor picks from. Each node has a slot: its NodeActor publishes
/// its effective weight there when it changes (rarely), and the table holds the actor a pick sends
/// the try to. Picks read an immutable table at a shared cursor (every request), so selection is
/// lock-free and never a single-actor bottleneck. The node set changes at run time (ADR 0015): a
/// node added takes a free slot, a node removed leaves the table at once (no new tries) and its
/// slot is freed only once its actor has stopped, so nothing it still publishes lands on another.
/// </summary>
public sealed class NodeBalancer
{
    private readonly object _publishGate = new();
    private int[] _weights;
    private NodeTarget?[] _targets;
    private SlotState[] _slots;
    private volatile Table _table;
    private int _cursor = -1;

    // Half-open nodes owed a probe: the next pick goes to one of them rather than after the
    // hundreds of picks their weight of 1 waits beside nodes at full weight (at light traffic,
    // minutes). Read on every pick only as the count, which is almost always 0.
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _probes = new();
    private volatile int _probesOwed;

    public NodeBalancer(IReadOnlyList<int> initialWeights)
    {
        // Empty is allowed: every node may be found by DNS after start-up (ADR 0015).
        _weights = initialWeights.ToArray();
        _targets = new NodeTarget?[_weights.Length];
        _slots = new SlotState[_weights.Length];
        _table = Build();
    }

    /// <summary>The weights the schedule currently uses (a copy), by slot.</summary>
    public IReadOnlyList<int> Weights => _table.Weights;

    /// <summary>The nodes in the table now, by slot (null: a free or retired slot).</summary>
    public IReadOnlyList<NodeTarget?> Targets => _table.Targets;

    /// <summary>Publishes a node's effective weight; 0 takes it out of rotation while others remain.</summary>
    public void Publish(int node, int weight)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        lock (_publishGate)
        {
            if (_slots[node] != SlotState.Live || _weights[node] == weight)
            {
                return;
            }

            _weights[node] = weight;
            _table = Build();
        }
    }

    /// <summary>
    /// Names the actor that serves a live slot that has none yet (a configured node's, at
    /// start-up); a slot already named, retired or free is left as it is.
    /// </summary>
    public void Attach(int slot, NodeTarget target)
    {
        lock (_publishGate)
        {
            if (slot < _slots.Length && _slots[slot] == SlotState.Live && _targets[slot] is null)
            {
                _targets[slot] = target;
                _table = Build();
            }
        }
    }

    /// <summary>
    /// Takes a free slot for a node added at run time, at weight 0 and with no actor yet (picks pass
    /// it by until <see cref="Attach"/> names one); answers the slot.
    /// </summary>
    public int Reserve()
    {
        lock (_publishGate)
        {
            var slot = Array.IndexOf(_slots, SlotState.Free);
            if (slot < 0)
            {
                slot = _targets.Length;
                Array.Resize(ref _weights, slot + 1);
                Array.Resize(ref _targets, slot + 1);
                Array.Resize(ref _slots, slot + 1);
            }

            _weights[slot] = 0;
            _targets[slot] = null;
            _slots[slot] = SlotState.Live;
            _table = Build();
            return slot;
        }
    }

    /// <summary>No new tries for this slot's node; its weight publishes are ignored until <see cref="Release"/>.</summary>
    public void Retire(int slot)
    {
        lock (_publishGate)
        {
            _weights[slot] = 0;
            _targets[slot] = null;
            _slots[slot] = SlotState.Retired;
            _table = Build();
        }
    }

    /// <summary>The next pick that may take this slot's node does (a half-open circuit's probe), whatever its weight.</summary>
    public void RequestProbe(int slot)
    {
        _probes.Enqueue(slot);
        Interlocked.Increment(ref _probesOwed);
    }

    /// <summary>The retired node's actor has stopped: its slot may serve another node.</summary>
    public void Release(int slot)
    {
        lock (_publishGate)
        {
            _slots[slot] = SlotState.Free;
        }
    }

    /// <summary>
    /// The next node by weight, skipping <paramref name="exclude"/> (nodes this request already tried).
    /// When every remaining node has weight 0 it still answers one of them: no self-made outage.
    /// Returns -1 only when every node is excluded.
    /// </summary>
    public int Pick(ReadOnlySpan<int> exclude = default) => Pick(exclude, requireTarget: false, out _);

    /// <summary>
    /// As <see cref="Pick(ReadOnlySpan{int})"/>, with the node's actor from the same table; a slot
    /// whose actor is not named yet is passed by.
    /// </summary>
    public int Pick(ReadOnlySpan<int> exclude, out NodeTarget? target) => Pick(exclude, requireTarget: true, out target);

    private int Pick(ReadOnlySpan<int> exclude, bool requireTarget, out NodeTarget? target)
    {
        var table = _table;
        if (_probesOwed > 0 && TakeProbe(table, exclude, requireTarget, out target) is var probe and >= 0)
        {
            return probe;
        }

        var cursor = (uint)Interlocked.Increment(ref _cursor);
        if (table.Line is { } line)
        {
            var first = line.SlotAt(cursor);
            for (var step = 0; step < line.Count; step++)
            {
                var node = step == 0 ? first : line.NextAfter(first, step);
                if (!exclude.Contains(node) && (table.Targets[node] is not null || !requireTarget))
                {
                    target = table.Targets[node];
                    return node;
                }
            }
        }

        var schedule = table.Schedule;
        if (schedule.Length > 0)
        {
            var start = (int)(cursor % (uint)schedule.Length);
            var node = schedule[start];
            if (!exclude.Contains(node) && (table.Targets[node] is not null || !requireTarget))
            {
                target = table.Targets[node];
                return node;
            }

            // Redispatch: walk on from the cursor for the next eligible node.
            for (var step = 1; step < schedule.Length; step++)
            {
                node = schedule[(start + step) % schedule.Length];
                if (!exclude.Contains(node) && (table.Targets[node] is not null || !requireTarget))
                {
                    target = table.Targets[node];
                    return node;
                }
            }
        }

        // Everything left has weight 0 (e.g. every circuit open): rotate over the nodes in the table.
        var live = table.Live;
        if (live.Length > 0)
        {
            var first = (int)(cursor % (uint)live.Length);
            for (var step = 0; step < live.Length; step++)
            {
                var node = live[(first + step) % live.Length];
                if (!exclude.Contains(node) && (table.Targets[node] is not null || !requireTarget))
                {
                    target = table.Targets[node];
                    return node;
                }
            }
        }

        target = null;
        return -1;
    }

    // A probe owed to a node still in the table with a weight (a slot since retired, or a node
    // drained or opened again, owes none); one this request has tried already waits for the next.
    private int TakeProbe(Table table, ReadOnlySpan<int> exclude, bool requireTarget, out NodeTarget? target)
    {
        target = null;
        if (!_probes.TryDequeue(out var slot))
        {
            return -1;
        }

        Interlocked.Decrement(ref _probesOwed);
        if (slot >= table.Weights.Length || table.Weights[slot] == 0 || (requireTarget && table.Targets[slot] is null))
        {
            return -1;
        }

        if (exclude.Contains(slot))
        {
            RequestProbe(slot);
            return -1;
        }

        target = table.Targets[slot];
        return slot;
    }

    // Under _publishGate. A live slot not attached yet (a configured node whose actor is starting)
    // is in the table; a retired or free one is not.
    private Table Build()
    {
        var weights = (int[])_weights.Clone();
        var live = new List<int>(weights.Length);
        for (var i = 0; i < weights.Length; i++)
        {
            if (_slots[i] == SlotState.Live)
            {
                live.Add(i);
            }
            else
            {
                weights[i] = 0;
            }
        }

        // A small pool gets nginx's smooth schedule unrolled; a large one (its cycle times its nodes
        // past a million) the weight line, whose build is linear and whose pick is a binary search.
        var line = UnrolledCost(weights) > UnrolledBudget ? WeightLine.Build(weights) : null;
        return new Table(line is null ? SmoothWeightedSchedule.Build(weights) : [], weights, (NodeTarget?[])_targets.Clone(), [.. live], line);
    }

    private const long UnrolledBudget = 1 << 20;

    // The unrolled schedule's build cost: its length (the weights' sum over their GCD) times the nodes.
    private static long UnrolledCost(ReadOnlySpan<int> weights)
    {
        int divisor = 0, count = 0;
        long total = 0;
        foreach (var weight in weights)
        {
            if (weight > 0)
            {
                divisor = Gcd(divisor, weight);
                count++;
                total += weight;
            }
        }

        return divisor == 0 ? 0 : total / divisor * count;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    private enum SlotState
    {
        Live,
        Retired,
        Free,
    }

    private sealed record Table(int[] Schedule, int[] Weights, NodeTarget?[] Targets, int[] Live, WeightLine? Line);
}

/// <summary>
/// A node as a pick hands it to a RequestActor: its actor, its name, where its tries are launched
/// (null: they are sent to the actor), and the attempts list of a request it answers first (built
/// once per node: the common case allocates nothing).
/// </summary>
public sealed record NodeTarget(IActorRef Actor, string Name, Nodes.NodeActor.TryLauncher? Launcher = null)
{
    public IReadOnlyList<Attempt> AnsweredFirst { get; } = [new Attempt(Name, "answered")];
}

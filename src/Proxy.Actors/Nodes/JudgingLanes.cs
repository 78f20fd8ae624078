using Akka.Actor;

namespace Proxy.Actors.Nodes;

/// <summary>
/// A node's classifier chains: one instance of every rule per lane. An answer is judged in the
/// least busy lane, so an answer that is slow to judge (a backtracking regex driven to its timeout,
/// a slow custom rule) holds up only its own lane, never every answer of the node; and judging
/// scales with cores instead of funnelling a busy node through one actor per rule.
/// </summary>
/// <remarks>
/// Entered off the actor (by the try's continuation) and left by the NodeActor when the verdict
/// arrives, so the counts are atomics. Two tries may pick the same lane at once; that only costs
/// them a little waiting.
/// </remarks>
internal sealed class JudgingLanes
{
    private readonly Lane[] _lanes;

    public JudgingLanes(IReadOnlyList<IActorRef[]> chains) =>
        _lanes = chains.Where(c => c.Length > 0).Select(c => new Lane(c[0], c[1..])).ToArray();

    /// <summary>Lanes per node: enough that a few slow answers leave most free; idle ones cost an actor each.</summary>
    public static int DefaultCount { get; } = Math.Clamp(Environment.ProcessorCount * 2, 4, 32);

    public bool IsEmpty => _lanes.Length == 0;

    public int Count => _lanes.Length;

    /// <summary>Takes the least busy lane (the first of equals, so a quiet node keeps to one).</summary>
    public Lane Enter()
    {
        var best = _lanes[0];
        var least = Volatile.Read(ref best.Busy);
        for (var i = 1; i < _lanes.Length && least > 0; i++)
        {
            var busy = Volatile.Read(ref _lanes[i].Busy);
            if (busy < least)
            {
                (best, least) = (_lanes[i], busy);
            }
        }

        Interlocked.Increment(ref best.Busy);
        return best;
    }

    /// <summary>One chain of rule instances; <see cref="Busy"/> counts the answers in it.</summary>
    internal sealed class Lane(IActorRef first, IActorRef[] rest)
    {
        public int Busy;

        public IActorRef First { get; } = first;

        public IActorRef[] Rest { get; } = rest;

        public void Leave() => Interlocked.Decrement(ref Busy);
    }
}

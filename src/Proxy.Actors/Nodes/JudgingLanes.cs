using Akka.Actor;
using Proxy.Actors.Classification;

namespace Proxy.Actors.Nodes;

/// <summary>
/// A node's classifier chains: one instance of every rule per lane. Each rule's screen is asked
/// first, so an answer reaches only the rules that could match it, and none when no rule could. An answer is judged in the
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
    private readonly Func<IAnswerView, bool>?[] _screens;
    private readonly bool _screened;

    /// <param name="chains">Per lane, the rule actors in chain order.</param>
    /// <param name="screens">Per rule, its screen (<see cref="ClassifierSpec.Screen"/>), or null.</param>
    public JudgingLanes(IReadOnlyList<IActorRef[]> chains, IReadOnlyList<Func<IAnswerView, bool>?> screens)
    {
        _lanes = chains.Where(c => c.Length > 0).Select(c => new Lane(c)).ToArray();
        _screens = [.. screens];
        _screened = _screens.Any(s => s is not null);
    }

    /// <summary>Lanes per node: enough that a few slow answers leave most free; idle ones cost an actor each.</summary>
    public static int DefaultCount { get; } = Math.Clamp(Environment.ProcessorCount * 2, 4, 32);

    public bool IsEmpty => _lanes.Length == 0;

    /// <summary>
    /// The rules of the chain that could match <paramref name="answer"/>, by their screens: false
    /// when none could (the answer is delivered without a message to any rule). Otherwise the answer
    /// enters the least busy lane; <paramref name="first"/> and <paramref name="rest"/> are that
    /// lane's actors of the rules that passed (the whole chain, without allocating, when all did).
    /// </summary>
    public bool TryEnter(IAnswerView answer, out Lane lane, out IActorRef first, out IReadOnlyList<IActorRef> rest)
    {
        ulong passed = 0;
        var count = 0;
        if (_screened)
        {
            for (var i = 0; i < _screens.Length; i++)
            {
                if (Passes(_screens[i], answer))
                {
                    passed |= i < 64 ? 1UL << i : 0;
                    count++;
                }
            }

            if (count == 0)
            {
                (lane, first, rest) = (null!, null!, []);
                return false;
            }
        }

        lane = Enter();
        if (!_screened || count == _screens.Length || _screens.Length > 64)
        {
            (first, rest) = (lane.First, lane.Rest);
            return true;
        }

        var chosen = new List<IActorRef>(count);
        for (var i = 0; i < _screens.Length; i++)
        {
            if ((passed & (1UL << i)) != 0)
            {
                chosen.Add(lane.Chain[i]);
            }
        }

        (first, rest) = (chosen[0], chosen.Count == 1 ? [] : chosen.GetRange(1, chosen.Count - 1));
        return true;
    }

    // A screen that throws cannot tell: the rule's actor judges (and counts the fault, if any).
    private static bool Passes(Func<IAnswerView, bool>? screen, IAnswerView answer)
    {
        try
        {
            return screen is null || screen(answer);
        }
        catch (Exception)
        {
            return true;
        }
    }

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
    internal sealed class Lane(IActorRef[] chain)
    {
        public int Busy;

        public IActorRef[] Chain { get; } = chain;

        public IActorRef First { get; } = chain[0];

        public IActorRef[] Rest { get; } = chain[1..];

        public void Leave() => Interlocked.Decrement(ref Busy);
    }
}

using Akka.Actor;
using Proxy.Actors.Diagnostics;

namespace Proxy.Actors.Weighting;

/// <summary>
/// The timer that gives marked nodes their weight back: on each <c>Proxy:Overload:RestoreInterval</c>
/// tick it asks every marked node to raise its weight one step, until the node reports it is whole.
/// The timer runs only while some node is marked.
/// </summary>
public sealed class WeightRestorer : UntypedActor, IWithTimers
{
    private const string TickKey = "restore-tick";

    private readonly TimeSpan _interval;
    private readonly HashSet<IActorRef> _marked = [];

    public WeightRestorer(TimeSpan interval)
    {
        _interval = interval;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    // A switch, not ReceiveActor's handlers compiled from expression trees (ADR 0007).
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Marked marked:
                // Watched: a node removed at run time while restoring must not stay on the list.
                if (_marked.Add(marked.Node))
                {
                    Context.Watch(marked.Node);
                }

                if (!Timers.IsTimerActive(TickKey))
                {
                    Timers.StartPeriodicTimer(TickKey, Tick.Instance, _interval);
                }

                break;
            case Tick:
                foreach (var node in _marked)
                {
                    node.Tell(RaiseWeight.Instance);
                }

                break;
            case Restored restored:
                Forget(restored.Node);
                break;
            case Terminated terminated:
                Forget(terminated.ActorRef);
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    nameof(WeightRestorer),
                    $"interval={_interval} restoring=[{string.Join(',', _marked.Select(n => n.Path.Name).Order())}]",
                    []));
                break;
            case GetRestorerState:
                Sender.Tell(new RestorerState(_interval, _marked.Select(n => n.Path.Name).Order().ToArray()));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Forget(IActorRef node)
    {
        if (_marked.Remove(node))
        {
            Context.Unwatch(node);
        }

        if (_marked.Count == 0)
        {
            Timers.Cancel(TickKey);
        }
    }

    public static Props Props(TimeSpan interval) => Akka.Actor.Props.Create(() => new WeightRestorer(interval));

    /// <summary>A node dropped its weight; restore it on the coming ticks.</summary>
    public sealed record Marked(IActorRef Node);

    /// <summary>A node is back at its configured weight.</summary>
    public sealed record Restored(IActorRef Node);

    /// <summary>Sent to a marked node on each tick: raise your weight one step.</summary>
    public sealed record RaiseWeight
    {
        public static RaiseWeight Instance { get; } = new();
    }

    public sealed record GetRestorerState
    {
        public static GetRestorerState Instance { get; } = new();
    }

    public sealed record RestorerState(TimeSpan Interval, IReadOnlyList<string> Restoring);

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }
}

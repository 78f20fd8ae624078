using System.Globalization;
using Akka.Actor;
using Akka.Routing;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Nodes;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Requests;

/// <summary>
/// Parent of the RequestActors: hands each <see cref="Dispatch"/> to an idle RequestActor, and
/// starts one only when none is idle (ADR 0009). A RequestActor that has finished its request comes
/// back to the idle list; one left idle for a whole <see cref="RequestSettings.IdleTrim"/> interval
/// is stopped, so the actors a burst needed do not outlive it. A RequestActor that fails is stopped,
/// never restarted: a restart would send the request again, and its PostStop already answers the
/// client. The host runs several as one pool (<see cref="PoolProps"/>).
/// </summary>
public sealed class RequestSupervisor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    private const string TrimKey = "trim-idle";

    private readonly RequestSettings _settings;
    private readonly NodeBalancer _balancer;

    // Most recently finished last: reused first while warm, and the front is what trimming stops.
    private readonly List<IActorRef> _idle = [];
    private int _idleLowWater;
    private long _startedCount;
    private Props? _requestProps;

    public RequestSupervisor(IActorRef nodes, RequestSettings settings, NodeBalancer balancer)
    {
        _settings = settings;
        _balancer = balancer;
        RequestMailbox.EnsureDefined(Context.System);

        nodes.Tell(NodeSupervisor.GetRoster.Instance);
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef nodes, RequestSettings settings, NodeBalancer balancer) =>
        Akka.Actor.Props.Create(() => new RequestSupervisor(nodes, settings, balancer));

    /// <summary>
    /// Several RequestSupervisors behind one round-robin pool router. The router picks a shard on the
    /// sender's own thread, so the pool costs no extra hop, and the shards hand out and take back
    /// their RequestActors in parallel. A shard that fails is restarted alone; its busy
    /// RequestActors stop and answer their clients with a 502.
    /// </summary>
    public static Props PoolProps(IActorRef nodes, RequestSettings settings, NodeBalancer balancer, int shards) =>
        Props(nodes, settings, balancer).WithRouter(
            new RoundRobinPool(shards).WithSupervisorStrategy(new OneForOneStrategy(_ => Directive.Restart)));

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart() => Timers.StartPeriodicTimer(TrimKey, TrimIdle.Instance, _settings.IdleTrim);

    // Switches, not ReceiveActor's handlers compiled from expression trees (ADR 0007).
    // Until the node roster arrives (the NodeActors exist), hold requests back rather than refuse
    // them. RequestActors find the nodes in the balancer's table, which follows the node set as it
    // changes (ADR 0015); a roster names a slot only where none is named yet.
    protected override void OnReceive(object message)
    {
        if (message is not NodeRoster roster)
        {
            Stash.Stash();
            return;
        }

        for (var i = 0; i < roster.Nodes.Count; i++)
        {
            _balancer.Attach(roster.Slots[i], new NodeTarget(roster.Nodes[i], roster.Names[i]));
        }

        _requestProps = RequestActor.Props(_settings, _balancer);
        Become(Ready);
        Stash.UnstashAll();
    }

    private void Ready(object message)
    {
        switch (message)
        {
            case Dispatch dispatch:
                TakeIdleOrStart().Tell(dispatch);
                break;
            case RequestActor.Finished:
                TakeBack(Sender);
                break;
            case Terminated terminated:
                ForgetIdle(terminated.ActorRef);
                break;
            case TrimIdle:
                Trim();
                break;
            case DescribeActor:
                var children = Context.GetChildren().ToArray();
                var counts = new RequestActorCounts(children.Length - _idle.Count, _idle.Count);
                Sender.Tell(new ActorDescription(nameof(RequestSupervisor), $"inFlight={counts.InFlight} idle={counts.Idle}", children, counts));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private IActorRef TakeIdleOrStart()
    {
        if (_idle.Count > 0)
        {
            var last = _idle.Count - 1;
            var idle = _idle[last];
            _idle.RemoveAt(last);
            _idleLowWater = Math.Min(_idleLowWater, last);
            return idle;
        }

        // Watched, so that one stopped from outside while idle leaves the idle list.
        var started = Context.ActorOf(_requestProps, string.Create(CultureInfo.InvariantCulture, $"request-{++_startedCount}"));
        Context.Watch(started);
        return started;
    }

    private void TakeBack(IActorRef requestActor)
    {
        // Only a child of this incarnation: one that finished just before a restart is gone.
        if (Context.Child(requestActor.Path.Name).Equals(requestActor))
        {
            _idle.Add(requestActor);
        }
    }

    private void ForgetIdle(IActorRef stopped)
    {
        _idle.Remove(stopped);
        _idleLowWater = Math.Min(_idleLowWater, _idle.Count);
    }

    // Stop the RequestActors that stayed idle through the whole interval: the fewest idle seen.
    private void Trim()
    {
        var unused = Math.Min(_idleLowWater, _idle.Count);
        for (var i = 0; i < unused; i++)
        {
            Context.Unwatch(_idle[i]);
            Context.Stop(_idle[i]);
        }

        _idle.RemoveRange(0, unused);
        _idleLowWater = _idle.Count;
    }

    /// <summary>Handle this client request; the outcome completes <see cref="Completion"/> exactly once.</summary>
    public sealed record Dispatch(ProxyRequest Request, TaskCompletionSource<RequestOutcome> Completion);

    private sealed record TrimIdle
    {
        public static TrimIdle Instance { get; } = new();
    }
}

using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;

namespace Proxy.Actors.Clustering;

/// <summary>
/// Reports when this membership incarnation can no longer do its work, so the membership starts
/// a new one (ADR 0014): a member or contact of the fleet quarantined it (it can never talk to that
/// member again), or one of the incarnation's own actors (the replicator's side, the formation)
/// stopped. A quarantine by an address that never was a member nor a configured contact is logged
/// and ignored: anyone who reaches the cluster port could otherwise restart the incarnation at will.
/// </summary>
public sealed class IncarnationWatch : ReceiveActor
{
    private readonly HashSet<Address> _fleet;
    private readonly IReadOnlyList<IActorRef> _essentials;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public IncarnationWatch(Action<string> lost, IReadOnlyList<Address> contacts, IReadOnlyList<IActorRef> essentials)
    {
        _fleet = [.. contacts];
        _essentials = essentials;
        Receive<ClusterEvent.IMemberEvent>(e => _fleet.Add(e.Member.Address));
        Receive<ThisActorSystemQuarantinedEvent>(e =>
        {
            if (_fleet.Contains(e.RemoteAddress))
            {
                lost($"quarantined by {e.RemoteAddress}");
            }
            else
            {
                _log.Warning("Quarantined by {0}, which never was a member of this fleet nor a contact: ignored", e.RemoteAddress);
            }
        });
        Receive<Terminated>(t => lost($"its actor {t.ActorRef.Path.Name} stopped"));
    }

    public static Props Props(Action<string> lost, IReadOnlyList<Address> contacts, IReadOnlyList<IActorRef> essentials) =>
        Akka.Actor.Props.Create(() => new IncarnationWatch(lost, contacts, essentials));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        foreach (var essential in _essentials)
        {
            Context.Watch(essential);
        }
    }

    protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
}

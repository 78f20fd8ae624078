using Akka.Actor;
using Akka.Remote;

namespace Proxy.Actors.Clustering;

/// <summary>
/// Reports when another member has quarantined this incarnation: it can never talk to that member
/// again, so the membership must start a new incarnation (ADR 0014).
/// </summary>
public sealed class QuarantineWatch : ReceiveActor
{
    public QuarantineWatch(Action<string> quarantined)
    {
        Receive<ThisActorSystemQuarantinedEvent>(e => quarantined($"quarantined by {e.RemoteAddress}"));
    }

    public static Props Props(Action<string> quarantined) => Akka.Actor.Props.Create(() => new QuarantineWatch(quarantined));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));
}

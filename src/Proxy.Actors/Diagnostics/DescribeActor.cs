using Akka.Actor;

namespace Proxy.Actors.Diagnostics;

/// <summary>Asks a proxy actor for its own summary, for <c>/debug/actors</c>.</summary>
public sealed record DescribeActor
{
    public static DescribeActor Instance { get; } = new();
}

/// <summary>
/// An actor's answer to <see cref="DescribeActor"/>: its type, its state in a line, and its children.
/// A RequestSupervisor also gives its <see cref="RequestActorCounts"/>, which the pool adds up.
/// </summary>
public sealed record ActorDescription(string Type, string State, IReadOnlyList<IActorRef> Children, RequestActorCounts? RequestActors = null);

/// <summary>A RequestSupervisor's RequestActors: busy with a request, and idle.</summary>
public sealed record RequestActorCounts(int InFlight, int Idle);

using Proxy.Actors.Forwarding;
using Proxy.Actors.Nodes;

namespace Proxy.Actors.Requests;

/// <summary>What the client gets: exactly one per request.</summary>
public abstract record RequestOutcome(IReadOnlyList<Attempt> Attempts);

/// <summary>
/// A node's answer to deliver; the receiver owns and disposes it. <paramref name="Node"/>: the
/// NodeActor that gave it, told <see cref="NodeActor.AnswerCut"/> should the rest of a streamed
/// answer break off (null where no actor is known).
/// </summary>
public sealed record Delivered(UpstreamAnswer Answer, IReadOnlyList<Attempt> Attempts, Akka.Actor.IActorRef? Node = null) : RequestOutcome(Attempts);

/// <summary>No node gave a deliverable answer: the proxy answers itself.</summary>
public sealed record Refused(int Status, string Reason, TimeSpan? RetryAfter, IReadOnlyList<Attempt> Attempts) : RequestOutcome(Attempts);

/// <summary>One try: which node, and how it ended (answered, overloaded:rule, refused, timed-out...).</summary>
public sealed record Attempt(string Node, string Result)
{
    public override string ToString() => $"{Node}:{Result}";

    /// <summary>How a try ended, as logs and metrics name it.</summary>
    public static string Describe(TryOutcome outcome) => outcome switch
    {
        Answered => "answered",
        Overloaded => "overloaded",
        Failed failed => failed.Kind switch
        {
            FailureKind.Refused => "refused",
            FailureKind.TlsFailed => "tls-failed",
            FailureKind.Dropped => "dropped",
            FailureKind.TimedOut => "timed-out",
            FailureKind.InvalidAnswer => "invalid-answer",
            FailureKind.Classified => "failed",
            FailureKind.ClientBody => "client-body",
            FailureKind.ClientSlow => "client-slow",
            _ => "client-gone",
        },
        _ => "unknown",
    };
}

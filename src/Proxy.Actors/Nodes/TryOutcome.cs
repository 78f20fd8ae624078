using Proxy.Actors.Forwarding;

namespace Proxy.Actors.Nodes;

/// <summary>How one try at one node ended; a NodeActor answers every Forward with exactly one.</summary>
public abstract record TryOutcome(string Node);

/// <summary>The node's answer is deliverable.</summary>
public sealed record Answered(string Node, UpstreamAnswer Answer) : TryOutcome(Node);

/// <summary>A classifier found the node overloaded: the work was not done; the answer was discarded.</summary>
public sealed record Overloaded(string Node, string Rule) : TryOutcome(Node);

/// <summary>
/// The try failed; <see cref="ReachedNode"/> says whether any of the request may have reached it;
/// <see cref="Rule"/> names the classifier rule when one decided (<see cref="FailureKind.Classified"/>).
/// </summary>
public sealed record Failed(string Node, FailureKind Kind, bool ReachedNode, string Reason, string? Rule = null) : TryOutcome(Node);

public enum FailureKind
{
    /// <summary>No connection could be made: the request never reached the node.</summary>
    Refused,

    /// <summary>
    /// The TLS handshake with an https:// node failed (its certificate refused, ours refused, no
    /// common protocol): nothing was sent.
    /// </summary>
    TlsFailed,

    /// <summary>The connection broke before the whole answer arrived.</summary>
    Dropped,

    /// <summary>No whole answer within <c>Proxy:Timeouts:Response</c>.</summary>
    TimedOut,

    /// <summary>The node answered something that is not valid HTTP.</summary>
    InvalidAnswer,

    /// <summary>A classifier rule with the <c>Failed</c> verdict matched.</summary>
    Classified,

    /// <summary>The client went away: nobody to answer, and no fault of the node.</summary>
    ClientGone,

    /// <summary>The client's streamed body could not be read (too large, cut off, too slow): no fault of the node.</summary>
    ClientBody,

    /// <summary>
    /// The response timeout ran out while the client was still sending its streamed body: the
    /// node could not have answered yet, so no fault of the node (a 408).
    /// </summary>
    ClientSlow,
}

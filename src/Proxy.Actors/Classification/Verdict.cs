namespace Proxy.Actors.Classification;

/// <summary>What a classifier rule concludes about a node's answer.</summary>
public enum Verdict
{
    /// <summary>No rule matched: the answer is delivered to the client.</summary>
    Deliver,

    /// <summary>The node said it is overloaded: it did not do the work, so the request is redispatched.</summary>
    Overloaded,

    /// <summary>The answer is a failure: counted toward the node's circuit, redispatched only where safe.</summary>
    Failed,
}

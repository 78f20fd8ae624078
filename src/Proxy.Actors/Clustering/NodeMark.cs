namespace Proxy.Actors.Clustering;

/// <summary>
/// What a proxy learnt or decided about a node, when, where and by which run of the proxy.
/// <paramref name="Member"/> is the cluster address it was made at (shown as <c>observedBy</c>);
/// <paramref name="Writer"/> names the process run that made it, so a restarted proxy (same address,
/// new run) adopts what its previous run decided instead of taking it for its own.
/// <paramref name="Weight"/>: for <see cref="NodeMarkKind.WeightSet"/> the configured weight; for
/// <see cref="NodeMarkKind.Enabled"/> the weight a node brought back from a drain starts again from
/// (0 when the enable changed nothing).
/// </summary>
public sealed record NodeMark(NodeMarkKind Kind, int Weight, long AtUnixMs, string Member, string Writer)
{
    public static NodeMark Now(NodeMarkKind kind, int weight = 0) =>
        new(kind, weight, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "", "");

    /// <summary>Marks of different subjects never overwrite each other: a drain survives any overload mark.</summary>
    public NodeMarkSubject Subject => Kind switch
    {
        NodeMarkKind.Drained or NodeMarkKind.Enabled => NodeMarkSubject.Rotation,
        NodeMarkKind.WeightSet => NodeMarkSubject.Weight,
        _ => NodeMarkSubject.Health,
    };

    /// <summary>
    /// True when this mark (of the same subject) should replace <paramref name="known"/>: the later
    /// one wins; a different mark of the same millisecond is the replicated map's own tie-break.
    /// </summary>
    public bool Supersedes(NodeMark? known) =>
        known is null || AtUnixMs > known.AtUnixMs || (AtUnixMs == known.AtUnixMs && this != known);
}

public enum NodeMarkKind
{
    Overloaded,
    CircuitOpen,
    Drained,
    Enabled,
    WeightSet,
}

/// <summary>
/// What a mark is about. Operator decisions (rotation, weight) and observed health are separate
/// entries of the replicated map, each last-writer-wins on its own.
/// </summary>
public enum NodeMarkSubject
{
    /// <summary>Observed: overloaded, circuit open. Matters only while its restoration can still be running.</summary>
    Health,

    /// <summary>Operator: drained or enabled. Matters until an operator changes it.</summary>
    Rotation,

    /// <summary>Operator: the configured weight. Matters until an operator changes it.</summary>
    Weight,
}

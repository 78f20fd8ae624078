namespace Proxy.Actors.Nodes;

/// <summary>
/// One backend node as configured. <paramref name="ReuseConnections"/> false sends every try on a
/// connection of its own (HAProxy's <c>http-reuse never</c>): for a node not trusted to keep
/// HTTP/1.1 framing, whose stray bytes on a reused connection would be read as the next try's answer.
/// <paramref name="Tls"/> says how an https:// node is verified (null: against the system store).
/// </summary>
public sealed record NodeSettings(string Name, NodeAddress Address, int Weight, bool ReuseConnections = true, NodeTlsSettings? Tls = null);

/// <summary>
/// How a node forwards one try and how much of the answer it buffers for classification: up to
/// <see cref="ResponseBufferLimit"/> bytes of any answer, up to <see cref="FaultBufferLimit"/> of one
/// that a rule recognises as a fault it must judge whole (and as much decoded content).
/// </summary>
public sealed record ForwardingSettings(TimeSpan ConnectTimeout, TimeSpan ResponseTimeout, int ResponseBufferLimit, int FaultBufferLimit = ForwardingSettings.DefaultFaultBufferLimit)
{
    public const int DefaultResponseBufferLimit = 64 * 1024;

    public const int DefaultFaultBufferLimit = 1024 * 1024;

    public static ForwardingSettings Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), DefaultResponseBufferLimit);
}

/// <summary>How a node's weight comes back after an overload, and when its circuit opens.</summary>
public sealed record HealthSettings(int RestoreSteps, int CircuitFailureThreshold, TimeSpan CircuitBreakDuration)
{
    /// <summary>The restorer's tick (<c>Proxy:Overload:RestoreInterval</c>): how far an adopted mark's weight has come back since it was made.</summary>
    public TimeSpan RestoreInterval { get; init; } = TimeSpan.FromSeconds(30);

    public static HealthSettings Default { get; } = new(4, 5, TimeSpan.FromSeconds(10));
}

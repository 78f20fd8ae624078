namespace Proxy.Actors.Nodes;

/// <summary>One backend node as configured.</summary>
public sealed record NodeSettings(string Name, NodeAddress Address, int Weight);

/// <summary>How a node forwards one try and how much of the answer it buffers for classification.</summary>
public sealed record ForwardingSettings(TimeSpan ConnectTimeout, TimeSpan ResponseTimeout, int ResponseBufferLimit)
{
    public static ForwardingSettings Default { get; } = new(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), 64 * 1024);
}

/// <summary>How a node's weight comes back after an overload, and when its circuit opens.</summary>
public sealed record HealthSettings(int RestoreSteps, int CircuitFailureThreshold, TimeSpan CircuitBreakDuration)
{
    public static HealthSettings Default { get; } = new(4, 5, TimeSpan.FromSeconds(10));
}

using Akka.Actor;

namespace Proxy.Host.Clustering;

/// <summary>
/// Hands the serving system's <c>ClusterBridge</c> to <see cref="ClusterMembership"/>, which starts
/// before the actor system does. <c>ActorRegistry.GetAsync</c> is not used for this: a waiter
/// added while the actor is being registered was never told, and membership then never started
/// (the member stayed "rejoining", incarnation 0, until restarted).
/// </summary>
public sealed class ClusterBridgeHandle
{
    private readonly TaskCompletionSource<IActorRef> _bridge = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called once, by the actor setup, when the bridge exists.</summary>
    public void Started(IActorRef bridge) => _bridge.TrySetResult(bridge);

    /// <summary>The bridge, as soon as the actor setup has made it.</summary>
    public Task<IActorRef> WaitAsync(CancellationToken stopping) => _bridge.Task.WaitAsync(stopping);
}

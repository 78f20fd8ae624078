using Akka.Actor;
using Akka.Hosting;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Weighting;

namespace Proxy.Host.Debug;

/// <summary>
/// Builds <c>/debug/actors</c> by asking each proxy actor to describe itself, from the top-level
/// actors down. Bounded: each actor gets a short deadline, an actor that does not answer in time
/// is shown as such, and only the first <see cref="MaxChildren"/> children of one actor are listed.
/// </summary>
public sealed class ActorTreeReader(
    IRequiredActor<WeightRestorer> restorer,
    IRequiredActor<NodeSupervisor> nodes,
    IRequiredActor<RequestSupervisor> requests)
{
    public const int MaxChildren = 100;

    private static readonly TimeSpan PerActor = TimeSpan.FromMilliseconds(500);

    public async Task<IReadOnlyList<ActorNode>> ReadAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(3));
        var roots = new[]
        {
            await restorer.GetAsync(cancellationToken).ConfigureAwait(false),
            await nodes.GetAsync(cancellationToken).ConfigureAwait(false),
            await requests.GetAsync(cancellationToken).ConfigureAwait(false),
        };
        return await Task.WhenAll(roots.Select(r => DescribeAsync(r, deadline.Token))).ConfigureAwait(false);
    }

    private static async Task<ActorNode> DescribeAsync(IActorRef actor, CancellationToken cancellationToken)
    {
        ActorDescription description;
        try
        {
            description = await actor.Ask<ActorDescription>(DescribeActor.Instance, PerActor, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AskTimeoutException or OperationCanceledException)
        {
            // A RequestActor may finish between listing and asking; anything else did not answer in time.
            return new ActorNode(actor.Path.ToStringWithoutAddress(), "unknown", "no answer (finished or busy)", [], 0);
        }

        var listed = description.Children.Take(MaxChildren).ToArray();
        var children = await Task.WhenAll(listed.Select(c => DescribeAsync(c, cancellationToken))).ConfigureAwait(false);
        return new ActorNode(actor.Path.ToStringWithoutAddress(), description.Type, description.State, children, description.Children.Count - listed.Length);
    }

    public sealed record ActorNode(string Path, string Type, string State, IReadOnlyList<ActorNode> Children, int ChildrenNotListed);
}

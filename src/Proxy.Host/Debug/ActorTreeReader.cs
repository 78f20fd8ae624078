using Akka.Actor;
using Akka.Hosting;
using Akka.Routing;
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
        var restorerRef = await restorer.GetAsync(cancellationToken).ConfigureAwait(false);
        var nodesRef = await nodes.GetAsync(cancellationToken).ConfigureAwait(false);
        var requestsRef = await requests.GetAsync(cancellationToken).ConfigureAwait(false);
        return await Task.WhenAll(
            DescribeAsync(restorerRef, deadline.Token),
            DescribeAsync(nodesRef, deadline.Token),
            DescribePoolAsync(requestsRef, deadline.Token)).ConfigureAwait(false);
    }

    // A pool router answers for itself only to router messages: list its routees (the
    // RequestSupervisor shards), describe each, and add up their RequestActor counts.
    private static async Task<ActorNode> DescribePoolAsync(IActorRef pool, CancellationToken cancellationToken)
    {
        if (await AskWithinAsync<Routees>(pool, GetRoutees.Instance, cancellationToken).ConfigureAwait(false) is not { } routees)
        {
            return Unanswered(pool);
        }

        var shards = routees.Members.OfType<ActorRefRoutee>().Select(r => r.Actor).ToArray();
        var descriptions = await Task.WhenAll(shards.Select(s => AskWithinAsync<ActorDescription>(s, DescribeActor.Instance, cancellationToken))).ConfigureAwait(false);
        var described = await Task.WhenAll(shards.Zip(descriptions, (shard, description) => NodeAsync(shard, description, cancellationToken))).ConfigureAwait(false);
        var inFlight = descriptions.Sum(d => d?.RequestActors?.InFlight ?? 0);
        var idle = descriptions.Sum(d => d?.RequestActors?.Idle ?? 0);
        return new ActorNode(pool.Path.ToStringWithoutAddress(), "RoundRobinPool", $"shards={shards.Length} inFlight={inFlight} idle={idle}", described, 0);
    }

    // A RequestActor may finish between listing and asking; anything else did not answer in time.
    private static async Task<ActorNode> DescribeAsync(IActorRef actor, CancellationToken cancellationToken) =>
        await NodeAsync(actor, await AskWithinAsync<ActorDescription>(actor, DescribeActor.Instance, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    // The node of an actor that answered (null: it did not), with its first children described.
    private static async Task<ActorNode> NodeAsync(IActorRef actor, ActorDescription? description, CancellationToken cancellationToken)
    {
        if (description is null)
        {
            return Unanswered(actor);
        }

        var listed = description.Children.Take(MaxChildren).ToArray();
        var children = await Task.WhenAll(listed.Select(c => DescribeAsync(c, cancellationToken))).ConfigureAwait(false);
        return new ActorNode(actor.Path.ToStringWithoutAddress(), description.Type, description.State, children, description.Children.Count - listed.Length);
    }

    // The answer, or null when the actor is gone or did not answer within PerActor.
    private static async Task<T?> AskWithinAsync<T>(IActorRef actor, object question, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            return await actor.Ask<T>(question, PerActor, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AskTimeoutException or OperationCanceledException)
        {
            return null;
        }
    }

    private static ActorNode Unanswered(IActorRef actor) =>
        new(actor.Path.ToStringWithoutAddress(), "unknown", "no answer (finished or busy)", [], 0);

    public sealed record ActorNode(string Path, string Type, string State, IReadOnlyList<ActorNode> Children, int ChildrenNotListed);
}

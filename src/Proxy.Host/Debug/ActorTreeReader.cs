using System.Globalization;
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
    // RequestSupervisor shards) and describe each.
    private static async Task<ActorNode> DescribePoolAsync(IActorRef pool, CancellationToken cancellationToken)
    {
        if (await AskWithinAsync<Routees>(pool, GetRoutees.Instance, cancellationToken).ConfigureAwait(false) is not { } routees)
        {
            return Unanswered(pool);
        }

        var shards = routees.Members.OfType<ActorRefRoutee>().Select(r => r.Actor).ToArray();
        var described = await Task.WhenAll(shards.Select(s => DescribeAsync(s, cancellationToken))).ConfigureAwait(false);
        var inFlight = described.Sum(s => Count(s.State, "inFlight="));
        var idle = described.Sum(s => Count(s.State, "idle="));
        return new ActorNode(pool.Path.ToStringWithoutAddress(), "RoundRobinPool", $"shards={shards.Length} inFlight={inFlight} idle={idle}", described, 0);
    }

    // A figure from a RequestSupervisor's state line ("inFlight=3 idle=5"); 0 for a shard that did not answer.
    private static int Count(string state, string key)
    {
        var at = state.IndexOf(key, StringComparison.Ordinal);
        if (at < 0)
        {
            return 0;
        }

        var digits = state.AsSpan(at + key.Length);
        var end = digits.IndexOf(' ');
        return int.TryParse(end < 0 ? digits : digits[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    private static async Task<ActorNode> DescribeAsync(IActorRef actor, CancellationToken cancellationToken)
    {
        // A RequestActor may finish between listing and asking; anything else did not answer in time.
        if (await AskWithinAsync<ActorDescription>(actor, DescribeActor.Instance, cancellationToken).ConfigureAwait(false) is not { } description)
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

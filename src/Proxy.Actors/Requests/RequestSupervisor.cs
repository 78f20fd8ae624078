using Akka.Actor;
using Akka.Routing;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Nodes;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Requests;

/// <summary>
/// Parent of the RequestActors: starts one per <see cref="Dispatch"/>. A RequestActor that fails
/// is stopped, never restarted: a restart would send the request again, and its PostStop already
/// answers the client. The host runs several as one pool (<see cref="PoolProps"/>).
/// </summary>
public sealed class RequestSupervisor : ReceiveActor, IWithUnboundedStash
{
    private readonly RequestSettings _settings;
    private readonly NodeBalancer _balancer;
    private Props? _requestProps;

    public RequestSupervisor(IActorRef nodes, RequestSettings settings, NodeBalancer balancer)
    {
        _settings = settings;
        _balancer = balancer;
        RequestMailbox.EnsureDefined(Context.System);

        // Until the node roster arrives, hold requests back rather than refuse them.
        Receive<NodeRoster>(roster =>
        {
            _requestProps = RequestActor.Props(_settings, roster, _balancer);
            Become(Ready);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
        nodes.Tell(NodeSupervisor.GetRoster.Instance);
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(IActorRef nodes, RequestSettings settings, NodeBalancer balancer) =>
        Akka.Actor.Props.Create(() => new RequestSupervisor(nodes, settings, balancer));

    /// <summary>
    /// Several RequestSupervisors behind one round-robin pool router. The router picks a shard on the
    /// sender's own thread, so the pool costs no extra hop; each shard keeps a small table of
    /// children (Akka copies part of it on every child started and stopped), and the shards start
    /// and reap their RequestActors in parallel. A shard that fails is restarted alone; its
    /// RequestActors stop and answer their clients with a 502.
    /// </summary>
    public static Props PoolProps(IActorRef nodes, RequestSettings settings, NodeBalancer balancer, int shards) =>
        Props(nodes, settings, balancer).WithRouter(
            new RoundRobinPool(shards).WithSupervisorStrategy(new OneForOneStrategy(_ => Directive.Restart)));

    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void Ready()
    {
        Receive<Dispatch>(d =>
        {
            // The child's first message: it learns its request from the Dispatch itself.
            var request = Context.ActorOf(_requestProps, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"request-{d.Request.Id}"));
            request.Tell(d);
        });
        Receive<DescribeActor>(_ =>
        {
            var children = Context.GetChildren().ToArray();
            Sender.Tell(new ActorDescription(nameof(RequestSupervisor), $"inFlight={children.Length}", children));
        });
    }

    /// <summary>Handle this client request; the outcome completes <see cref="Completion"/> exactly once.</summary>
    public sealed record Dispatch(ProxyRequest Request, TaskCompletionSource<RequestOutcome> Completion);
}

using Akka.Actor;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Nodes;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Requests;

/// <summary>
/// One client request: picks a node by weight, has it forward the request, redispatches to a node
/// not tried yet on an overload (or a failure where that is safe), and completes the client's
/// answer exactly once, then stops. It learns its request from the <see cref="RequestSupervisor.Dispatch"/>
/// its parent sends it first, so every RequestActor shares one <see cref="Props"/>.
/// </summary>
public sealed class RequestActor : UntypedActor
{
    private readonly RequestSettings _settings;
    private readonly NodeRoster _roster;
    private readonly NodeBalancer _balancer;
    private readonly List<Attempt> _attempts = new(2);
    private readonly int[] _tried;
    private readonly DateTime _startedUtc = DateTime.UtcNow;
    private ProxyRequest? _request;
    private TaskCompletionSource<RequestOutcome>? _completion;
    private int _triedCount;

    public RequestActor(RequestSettings settings, NodeRoster roster, NodeBalancer balancer)
    {
        _settings = settings;
        _roster = roster;
        _balancer = balancer;
        _tried = new int[Math.Min(roster.Nodes.Count, settings.MaxRedispatch + 1)];
    }

    private ProxyRequest Request => _request!;

    /// <summary>
    /// The Props every RequestActor of one roster shares, on the <see cref="RequestMailbox"/> (whose
    /// configuration must be in the system's: see <see cref="RequestMailbox.EnsureDefined"/>). Built
    /// once: Props, their producer and a mailbox deployment per request were a measurable share of
    /// the per-request allocations.
    /// </summary>
    public static Props Props(RequestSettings settings, NodeRoster roster, NodeBalancer balancer) =>
        Akka.Actor.Props.CreateBy(new Producer(settings, roster, balancer)).WithMailbox(RequestMailbox.Id);

    // An UntypedActor with a switch: a ReceiveActor builds its match handlers per instance, and
    // this actor lives for one request.
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case RequestSupervisor.Dispatch dispatch when _request is null:
                Begin(dispatch);
                break;
            case Answered answered:
                OnAnswered(answered);
                break;
            case Overloaded overloaded when IsCurrent(overloaded):
                _attempts.Add(new Attempt(overloaded.Node, "overloaded:" + overloaded.Rule));
                TryNextOr(redispatchable: Request.Body.CanReplay, overloaded);
                break;
            case Failed failed when IsCurrent(failed):
                OnFailed(failed);
                break;
            case TryOutcome:
                // An outcome of a try this request no longer waits for.
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    nameof(RequestActor),
                    $"request={_request?.Id} {_request?.Method} {_request?.PathAndQuery} attempt={_triedCount} age={(DateTime.UtcNow - _startedUtc).TotalMilliseconds:0}ms",
                    []));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    // A crash or stop before completion still answers the client, exactly once.
    protected override void PostStop()
    {
        if (_completion is { Task.IsCompleted: false })
        {
            _completion.TrySetResult(new Refused(502, "proxy error while handling the request", null, _attempts.ToArray()));
        }
    }

    private void Begin(RequestSupervisor.Dispatch dispatch)
    {
        _request = dispatch.Request;
        _completion = dispatch.Completion;
        if (!TryNext())
        {
            Complete(new Refused(502, "no node available", null, _attempts.ToArray()));
        }
    }

    private void OnAnswered(Answered answered)
    {
        if (!IsCurrent(answered))
        {
            answered.Answer.Dispose();
            return;
        }

        _attempts.Add(new Attempt(answered.Node, "answered"));
        Complete(new Delivered(answered.Answer, _attempts.ToArray()));
    }

    private void OnFailed(Failed failed)
    {
        _attempts.Add(new Attempt(failed.Node, Attempt.Describe(failed)));
        if (failed.Kind == FailureKind.ClientGone)
        {
            Complete(new Refused(499, "client closed request", null, _attempts.ToArray()));
            return;
        }

        if (failed.Kind == FailureKind.ClientBody)
        {
            Complete(new Refused(400, "the request body could not be read", null, _attempts.ToArray()));
            return;
        }

        // RFC 9110: only an idempotent request, or one that never reached the node, may go again.
        TryNextOr(Request.Body.CanReplay && (!failed.ReachedNode || Request.IsIdempotent), failed);
    }

    private bool IsCurrent(TryOutcome outcome) =>
        _triedCount > 0 && outcome.Node == _roster.Names[_tried[_triedCount - 1]] && !_completion!.Task.IsCompleted;

    private void TryNextOr(bool redispatchable, TryOutcome last)
    {
        if (redispatchable && TryNext())
        {
            return;
        }

        // The outcome carries its own copy of the attempts: messages are immutable.
        var attempts = _attempts.ToArray();
        Complete(last switch
        {
            Overloaded => new Refused(503, "all tried nodes are overloaded", _settings.RetryAfter, attempts),
            Failed { Kind: FailureKind.TimedOut } => new Refused(504, "node did not answer in time", null, attempts),
            Failed { Kind: FailureKind.InvalidAnswer } => new Refused(502, "node gave an invalid answer", null, attempts),
            Failed { Kind: FailureKind.Classified } => new Refused(502, "node answered with a failure", null, attempts),
            _ => new Refused(502, "could not reach a node", null, attempts),
        });
    }

    private bool TryNext()
    {
        if (_triedCount >= _tried.Length)
        {
            return false;
        }

        var node = _balancer.Pick(_tried.AsSpan(0, _triedCount));
        if (node < 0)
        {
            return false;
        }

        _tried[_triedCount++] = node;
        _roster.Nodes[node].Tell(new NodeActor.Forward(Request));
        return true;
    }

    private void Complete(RequestOutcome outcome)
    {
        // The host's completion runs its continuation synchronously: its handler writes the answer
        // on this turn, up to its first write that cannot finish at once.
        if (!_completion!.TrySetResult(outcome) && outcome is Delivered late)
        {
            late.Answer.Dispose();
        }

        Context.Stop(Self);
    }

    // A producer instead of an expression tree, which Akka would take apart (and reflect over) on
    // every actor it creates.
    private sealed class Producer(RequestSettings settings, NodeRoster roster, NodeBalancer balancer) : IIndirectActorProducer
    {
        public Type ActorType => typeof(RequestActor);

        public ActorBase Produce() => new RequestActor(settings, roster, balancer);

        public void Release(ActorBase actor)
        {
        }
    }
}

/// <summary>Per-request policy: how many redispatches, and the Retry-After of a 503.</summary>
public sealed record RequestSettings(int MaxRedispatch, TimeSpan RetryAfter);

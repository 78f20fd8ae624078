using Akka.Actor;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Nodes;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Requests;

/// <summary>
/// One client request at a time: picks a node by weight, has it forward the request, redispatches
/// to a node not tried yet on an overload (or a failure where that is safe), and completes the
/// client's answer exactly once. Then it tells its parent it has <see cref="Finished"/> and waits,
/// idle, for the next <see cref="RequestSupervisor.Dispatch"/> (ADR 0009): starting and stopping
/// an actor per request was half of the proxy's allocations per request.
/// </summary>
public sealed class RequestActor : UntypedActor
{
    private readonly RequestSettings _settings;
    private readonly NodeBalancer _balancer;
    private readonly List<Attempt> _attempts = new(2);
    private readonly int[] _tried;
    private NodeTarget? _first;
    private NodeTarget? _current;
    private DateTime _startedUtc;
    private long _served;
    private ProxyRequest? _request;
    private TaskCompletionSource<RequestOutcome>? _completion;
    private int _triedCount;

    private RequestActor(RequestSettings settings, NodeBalancer balancer)
    {
        _settings = settings;
        _balancer = balancer;
        _tried = new int[settings.MaxRedispatch + 1];
    }

    private ProxyRequest Request => _request!;

    /// <summary>
    /// The Props every RequestActor of one roster shares, on the <see cref="RequestMailbox"/> (whose
    /// configuration must be in the system's: see <see cref="RequestMailbox.EnsureDefined"/>). Built
    /// once: Props, their producer and a mailbox deployment per request were a measurable share of
    /// the per-request allocations.
    /// </summary>
    public static Props Props(RequestSettings settings, NodeBalancer balancer) =>
        Akka.Actor.Props.CreateBy(new Producer(settings, balancer)).WithMailbox(RequestMailbox.Id);

    // An UntypedActor with a switch: a ReceiveActor builds its match handlers per instance, and a
    // shard starts a new RequestActor whenever none of its own is idle (a burst starts many).
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case RequestSupervisor.Dispatch dispatch:
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
                // Not the outcome of this request's current try. A NodeActor answers every Forward
                // exactly once and a request completes only on its last try's outcome, so nothing
                // of an earlier request can arrive here; this only guards against a broken promise.
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    nameof(RequestActor),
                    _request is { } r
                        ? $"request={r.Id} {r.Method} {r.PathAndQuery} attempt={_triedCount} age={(DateTime.UtcNow - _startedUtc).TotalMilliseconds:0}ms served={_served}"
                        : $"idle served={_served}",
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
        _completion?.TrySetResult(new Refused(502, "proxy error while handling the request", null, _attempts.ToArray()));
    }

    private void Begin(RequestSupervisor.Dispatch dispatch)
    {
        if (_request is not null)
        {
            // The supervisor hands out only idle RequestActors; answer rather than lose the request.
            dispatch.Completion.TrySetResult(new Refused(502, "proxy error: the request actor was busy", null, []));
            return;
        }

        _request = dispatch.Request;
        _completion = dispatch.Completion;
        _startedUtc = DateTime.UtcNow;
        _attempts.Clear();
        _triedCount = 0;
        _first = null;
        _current = null;
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

        if (_attempts.Count == 0)
        {
            // The common outcome, answered by the first node tried: its attempts list is shared, one per node.
            Complete(new Delivered(answered.Answer, _first!.AnsweredFirst, _current?.Actor));
            return;
        }

        _attempts.Add(new Attempt(answered.Node, "answered"));
        Complete(new Delivered(answered.Answer, _attempts.ToArray(), _current?.Actor));
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

        if (failed.Kind == FailureKind.ClientSlow)
        {
            Complete(new Refused(408, "the request body was still arriving when the response timeout ran out", null, _attempts.ToArray()));
            return;
        }

        // RFC 9110: only an idempotent request, or one that never reached the node, may go again.
        TryNextOr(Request.Body.CanReplay && (!failed.ReachedNode || Request.IsIdempotent), failed);
    }

    private bool IsCurrent(TryOutcome outcome) =>
        _completion is not null && _current is not null && outcome.Node == _current.Name;

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
            Failed { Kind: FailureKind.Dropped } => new Refused(502, "the connection to the node broke before its whole answer", null, attempts),
            _ => new Refused(502, "could not reach a node", null, attempts),
        });
    }

    private bool TryNext()
    {
        if (_triedCount >= _tried.Length)
        {
            return false;
        }

        var node = _balancer.Pick(_tried.AsSpan(0, _triedCount), out var target);
        if (node < 0 || target is null)
        {
            return false;
        }

        _tried[_triedCount++] = node;
        _current = target;
        _first ??= target;
        var resend = _triedCount - 1;
        if (target.Launcher?.TryLaunch(Request, resend, Self) != true)
        {
            target.Actor.Tell(new NodeActor.Forward(Request, resend));
        }
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

        // Idle until the parent hands out this actor again.
        _served++;
        _request = null;
        _completion = null;
        Context.Parent.Tell(Finished.Instance);
    }

    /// <summary>To the parent: this RequestActor has completed its request and can take another.</summary>
    public sealed record Finished
    {
        public static Finished Instance { get; } = new();
    }

    // A producer instead of an expression tree, which Akka would take apart (and reflect over) on
    // every actor it creates. It also builds, once for all its RequestActors, the immutable attempts
    // list of a request its first node answered, per node.
    private sealed class Producer(RequestSettings settings, NodeBalancer balancer) : IIndirectActorProducer
    {
        public Type ActorType => typeof(RequestActor);

        public ActorBase Produce() => new RequestActor(settings, balancer);

        public void Release(ActorBase actor)
        {
        }
    }
}

/// <summary>Per-request policy: how many redispatches, and the Retry-After of a 503.</summary>
public sealed record RequestSettings(int MaxRedispatch, TimeSpan RetryAfter)
{
    /// <summary>A RequestActor left idle through a whole interval of this is stopped (ADR 0009).</summary>
    public TimeSpan IdleTrim { get; init; } = TimeSpan.FromSeconds(30);
}

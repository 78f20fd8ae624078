using Akka.Actor;
using Akka.Event;
using Proxy.Actors.Classification;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Requests;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Nodes;

/// <summary>
/// One backend node: forwards tries concurrently (the I/O runs off the actor and is piped back),
/// has its own chain of classifier actors judge each answer, learns from each outcome, and holds
/// the node's health: overload mark, restoring weight and circuit. It publishes its effective
/// weight to the <see cref="NodeBalancer"/> on every change.
/// </summary>
public sealed class NodeActor : ReceiveActor, IWithTimers
{
    private const string HalfOpenKey = "circuit-half-open";

    private readonly int _index;
    private readonly NodeSettings _node;
    private readonly NodeForwarder _forwarder;
    private readonly HealthSettings _health;
    private readonly NodeBalancer _balancer;
    private readonly IActorRef _restorer;
    private readonly IActorRef[] _classifiers;
    private readonly IActorRef[] _classifiersAfterFirst;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private NodeHealth _state = NodeHealth.Healthy;
    private int _weight;
    private int _inFlight;
    private long _requests;
    private long _overloads;
    private long _failures;
    private int _consecutiveFailures;

    public NodeActor(
        int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, HealthSettings health, NodeBalancer balancer, IActorRef restorer)
    {
        _index = index;
        _node = node;
        _forwarder = forwarder;
        _health = health;
        _balancer = balancer;
        _restorer = restorer;
        _weight = node.Weight;
        _classifiers = classifiers.Select(c => Context.ActorOf(c.Props, "classifier-" + c.Name)).ToArray();
        _classifiersAfterFirst = _classifiers.Skip(1).ToArray();

        Receive<Forward>(HandleForward);
        Receive<TryCompleted>(HandleCompleted);
        Receive<ClassifierActor.Classified>(HandleClassified);
        Receive<WeightRestorer.RaiseWeight>(_ => RaiseWeight());
        Receive<HalfOpen>(_ => EnterHalfOpen());
        Receive<GetNodeState>(_ => Sender.Tell(Report()));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(
        int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, HealthSettings health, NodeBalancer balancer, IActorRef restorer) =>
        Akka.Actor.Props.Create(() => new NodeActor(index, node, forwarder, classifiers, health, balancer, restorer));

    protected override void PreStart() => Publish();

    private void HandleForward(Forward forward)
    {
        var requester = Sender;
        var name = _node.Name;
        _inFlight++;
        _requests++;
        _forwarder.SendAsync(forward.Request).PipeTo(
            Self,
            success: result => new TryCompleted(requester, result),
            failure: ex => new TryCompleted(requester, new ForwardResult(null, new Failed(name, FailureKind.Dropped, ReachedNode: true, ex.Message))));
    }

    private void HandleCompleted(TryCompleted completed)
    {
        if (completed.Result.Answer is not { } answer)
        {
            Conclude(completed.Requester, completed.Result.Failure!);
        }
        else if (_classifiers.Length == 0)
        {
            Conclude(completed.Requester, new Answered(_node.Name, answer));
        }
        else
        {
            _classifiers[0].Tell(new ClassifierActor.Classify(answer, _classifiersAfterFirst, new Judging(completed.Requester, answer)));
        }
    }

    private void HandleClassified(ClassifierActor.Classified classified)
    {
        var (requester, answer) = (Judging)classified.Ticket;
        if (classified.Verdict == Verdict.Deliver)
        {
            Conclude(requester, new Answered(_node.Name, answer));
            return;
        }

        // Not delivered: release the connection and the buffer now.
        answer.Dispose();
        Conclude(requester, classified.Verdict == Verdict.Overloaded
            ? new Overloaded(_node.Name, classified.Rule!)
            : new Failed(_node.Name, FailureKind.Classified, ReachedNode: true, $"classified as failed by rule '{classified.Rule}'"));
    }

    private void Conclude(IActorRef requester, TryOutcome outcome)
    {
        _inFlight = Math.Max(0, _inFlight - 1);
        switch (outcome)
        {
            case Answered:
                _consecutiveFailures = 0;
                if (_state == NodeHealth.HalfOpen)
                {
                    CloseCircuit();
                }

                break;
            case Overloaded overloaded:
                _overloads++;
                _consecutiveFailures = 0;
                MarkOverloaded(overloaded.Rule);
                break;
            case Failed { Kind: FailureKind.ClientGone }:
                // The client left: no evidence about the node.
                break;
            case Failed failed:
                _failures++;
                _consecutiveFailures++;
                if (_state == NodeHealth.HalfOpen || _consecutiveFailures >= _health.CircuitFailureThreshold)
                {
                    OpenCircuit(failed.Reason);
                }

                break;
        }

        requester.Tell(outcome);
    }

    private void MarkOverloaded(string rule)
    {
        if (_state != NodeHealth.Overloaded)
        {
            _log.Warning("Node {0} marked overloaded by rule {1}: weight {2} -> {3}", _node.Name, rule, _weight, WeightSteps.Marked);
        }

        Timers.Cancel(HalfOpenKey);
        _state = NodeHealth.Overloaded;
        _weight = WeightSteps.Marked;
        Publish();
        _restorer.Tell(new WeightRestorer.Marked(Self));
    }

    private void RaiseWeight()
    {
        if (_state is not (NodeHealth.Overloaded or NodeHealth.Restoring))
        {
            // Whole again, or the circuit now decides; the restorer can forget this node.
            if (_state == NodeHealth.Healthy)
            {
                Sender.Tell(new WeightRestorer.Restored(Self));
            }

            return;
        }

        _weight = WeightSteps.Next(_weight, _node.Weight, _health.RestoreSteps);
        if (_weight >= _node.Weight)
        {
            _state = NodeHealth.Healthy;
            _log.Info("Node {0} restored to weight {1}", _node.Name, _weight);
            Sender.Tell(new WeightRestorer.Restored(Self));
        }
        else
        {
            _state = NodeHealth.Restoring;
        }

        Publish();
    }

    private void OpenCircuit(string reason)
    {
        if (_state != NodeHealth.Open)
        {
            _log.Warning("Node {0} circuit opened after {1} consecutive failures (last: {2})", _node.Name, _consecutiveFailures, reason);
        }

        _state = NodeHealth.Open;
        Publish();
        Timers.StartSingleTimer(HalfOpenKey, HalfOpen.Instance, _health.CircuitBreakDuration);
    }

    private void EnterHalfOpen()
    {
        if (_state != NodeHealth.Open)
        {
            return;
        }

        // One probe's worth of traffic decides: an answer closes the circuit, a failure reopens it.
        _state = NodeHealth.HalfOpen;
        _weight = WeightSteps.Marked;
        Publish();
    }

    private void CloseCircuit()
    {
        _log.Info("Node {0} circuit closed; restoring weight", _node.Name);
        _state = NodeHealth.Restoring;
        _weight = WeightSteps.Marked;
        Publish();
        _restorer.Tell(new WeightRestorer.Marked(Self));
    }

    private void Publish() => _balancer.Publish(_index, _state == NodeHealth.Open ? 0 : _weight);

    private NodeStateReport Report() => new(
        _node.Name,
        _node.Address.Original,
        _state,
        _state == NodeHealth.Open ? 0 : _weight,
        _node.Weight,
        _inFlight,
        _requests,
        _overloads,
        _failures);

    /// <summary>Send this try to the node; the sender gets exactly one <see cref="TryOutcome"/>.</summary>
    public sealed record Forward(ProxyRequest Request);

    public sealed record GetNodeState
    {
        public static GetNodeState Instance { get; } = new();
    }

    private sealed record TryCompleted(IActorRef Requester, ForwardResult Result);

    /// <summary>An answer out with the classifiers, and who waits for the outcome.</summary>
    private sealed record Judging(IActorRef Requester, UpstreamAnswer Answer);

    private sealed record HalfOpen
    {
        public static HalfOpen Instance { get; } = new();
    }
}

/// <summary>A node's health as operators see it; only <c>Healthy</c> means full weight and a closed circuit.</summary>
public enum NodeHealth
{
    Healthy,
    Overloaded,
    Restoring,
    Open,
    HalfOpen,
}

/// <summary>A NodeActor's answer to <see cref="NodeActor.GetNodeState"/>.</summary>
public sealed record NodeStateReport(
    string Name,
    string Address,
    NodeHealth State,
    int Weight,
    int ConfiguredWeight,
    int InFlight,
    long Requests,
    long Overloads,
    long Failures);

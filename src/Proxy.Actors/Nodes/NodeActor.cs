using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Proxy.Actors.Classification;
using Proxy.Actors.Clustering;
using Proxy.Actors.Diagnostics;
using Proxy.Actors.Forwarding;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Nodes;

/// <summary>
/// One backend node: forwards tries concurrently (the I/O runs off the actor and is piped back),
/// has its own chain of classifier actors judge each answer, learns from each outcome, and holds
/// the node's health: overload mark, restoring weight, circuit, operator drain. It publishes its
/// effective weight to the <see cref="NodeBalancer"/> on every change.
/// </summary>
public sealed class NodeActor : ReceiveActor, IWithTimers
{
    private const string HalfOpenKey = "circuit-half-open";
    private const string LocalObserver = "local";

    private readonly int _index;
    private readonly NodeSettings _node;
    private readonly HealthSettings _health;
    private readonly NodeBalancer _balancer;
    private readonly IActorRef _restorer;
    private readonly IProxyMetrics _metrics;
    private readonly IActorRef _cluster;
    private readonly TryRoute _route;
    private readonly IActorRef[][] _classifiers;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private NodeHealth _state = NodeHealth.Healthy;
    private int _configuredWeight;
    private int _weight;
    private int _inFlight;
    private long _requests;
    private long _overloads;
    private long _failures;
    private int _consecutiveFailures;
    private string _observedBy = LocalObserver;

    public NodeActor(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services)
    {
        _index = index;
        _node = node;
        _health = services.Health;
        _balancer = services.Balancer;
        _restorer = services.Restorer;
        _metrics = services.Metrics;
        _cluster = services.HealthReplicator ?? ActorRefs.Nobody;
        _configuredWeight = node.Weight;
        _weight = node.Weight;
        // A restarted NodeActor adopts the classifiers its previous incarnation left running (see
        // PreRestart): tries still in flight hold their references.
        var lanes = classifiers.Count == 0 ? 0 : JudgingLanes.DefaultCount;
        _classifiers = Enumerable.Range(0, lanes).Select(lane => classifiers.Select(c => AdoptOrStart(c, lane)).ToArray()).ToArray();
        _route = new TryRoute(forwarder, node.Name, new JudgingLanes(_classifiers, classifiers.Select(c => c.Screen).ToArray()));

        Receive<Forward>(HandleForward);
        Receive<TryCompleted>(HandleCompleted);
        Receive<ClassifierActor.Classified>(HandleClassified);
        Receive<WeightRestorer.RaiseWeight>(_ => RaiseWeight());
        Receive<HalfOpen>(_ => EnterHalfOpen());
        Receive<Drain>(_ => Administer(DrainNode, NodeMarkKind.Drained));
        Receive<Enable>(_ => Administer(EnableNode, NodeMarkKind.Enabled));
        Receive<SetWeight>(s => Administer(() => ChangeConfiguredWeight(s.Weight), NodeMarkKind.WeightSet, s.Weight));
        Receive<Adopt>(AdoptMark);
        Receive<GetNodeState>(_ => Sender.Tell(Report()));
        Receive<DescribeActor>(_ => Sender.Tell(new ActorDescription(
            nameof(NodeActor),
            $"node={_node.Name} state={_state} weight={EffectiveWeight}/{_configuredWeight} inFlight={_inFlight} requests={_requests} overloads={_overloads} failures={_failures}",
            _classifiers.SelectMany(lane => lane).ToArray())));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    // Lane 0 is /classifier-<rule>, lane k /classifier-<rule>~k ('~' is never in a rule's name).
    private static IActorRef AdoptOrStart(ClassifierSpec classifier, int lane)
    {
        var name = lane == 0 ? "classifier-" + classifier.Name : $"classifier-{classifier.Name}~{lane}";
        var kept = Context.Child(name);
        return kept.IsNobody() ? Context.ActorOf(classifier.Props, name) : kept;
    }

    public static Props Props(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services) =>
        Akka.Actor.Props.Create(() => new NodeActor(index, node, forwarder, classifiers, services));

    private int EffectiveWeight => _state is NodeHealth.Open or NodeHealth.Drained ? 0 : _weight;

    protected override void PreStart() => Publish();

    // A crash while concluding a try must not leave its requester waiting forever: answer it as a
    // failure of this try before the restart (the restarted actor keeps the node's mailbox).
    protected override void PreRestart(Exception reason, object message)
    {
        switch (message)
        {
            case TryCompleted completed:
                completed.Result.Answer?.Dispose();
                completed.Requester.Tell(new Failed(_node.Name, FailureKind.Dropped, ReachedNode: true, $"node actor failed: {reason.Message}"));
                break;
            case ClassifierActor.Classified { Ticket: Judging judging }:
                judging.Lane.Leave();
                judging.Answer.Dispose();
                judging.Requester.Tell(new Failed(_node.Name, FailureKind.Dropped, ReachedNode: true, $"node actor failed: {reason.Message}"));
                break;
        }

        // Unlike the default, keep the classifier children (Akka restarts them along with this actor,
        // mailboxes intact): a try that finishes during the restart still reaches them.
        PostStop();
    }

    private void HandleForward(Forward forward)
    {
        _requests++;
        _metrics.InFlightChanged(_node.Name, ++_inFlight);
        _ = ForwardAsync(_route, forward.Request, Sender, Self, Stopwatch.GetTimestamp());
    }

    // Runs off the actor, so everything it needs comes in as arguments. An answer goes straight to
    // the first classifier, whose verdict comes back here as Classified; a failure (or an answer
    // with no classifier to judge it) comes back as TryCompleted. Piping every result through this
    // actor first cost a message and a mailbox run per try.
    private static async Task ForwardAsync(TryRoute route, ProxyRequest request, IActorRef requester, IActorRef self, long started)
    {
        ForwardResult result;
        try
        {
            result = await route.Forwarder.SendAsync(request).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            result = new ForwardResult(null, new Failed(route.Node, FailureKind.Dropped, ReachedNode: true, ex.Message));
        }

        if (result.Answer is { } answer && !route.Lanes.IsEmpty && route.Lanes.TryEnter(answer, out var lane, out var first, out var rest))
        {
            first.Tell(new ClassifierActor.Classify(answer, rest, new Judging(requester, answer, started, lane), Stopwatch.GetTimestamp()), self);
        }
        else
        {
            self.Tell(new TryCompleted(requester, result, started));
        }
    }

    private void HandleCompleted(TryCompleted completed)
    {
        if (completed.Result.Answer is not { } answer)
        {
            Conclude(completed.Requester, completed.Result.Failure!, status: 0, completed.Started);
        }
        else
        {
            // No rule of the chain could match it (their screens said so), or the chain is empty.
            Conclude(completed.Requester, new Answered(_node.Name, answer), answer.Status, completed.Started);
        }
    }

    private void HandleClassified(ClassifierActor.Classified classified)
    {
        var (requester, answer, started, lane) = (Judging)classified.Ticket;
        lane.Leave();
        var status = answer.Status;
        if (classified.Verdict == Verdict.Deliver)
        {
            Conclude(requester, new Answered(_node.Name, answer), status, started);
            return;
        }

        // Not delivered: release the connection and the buffer now.
        answer.Dispose();
        Conclude(
            requester,
            classified.Verdict == Verdict.Overloaded
                ? new Overloaded(_node.Name, classified.Rule!)
                : new Failed(_node.Name, FailureKind.Classified, ReachedNode: true, $"classified as failed by rule '{classified.Rule}'"),
            status,
            started);
    }

    private void Conclude(IActorRef requester, TryOutcome outcome, int status, long started)
    {
        _inFlight = Math.Max(0, _inFlight - 1);
        _metrics.InFlightChanged(_node.Name, _inFlight);
        _metrics.TryCompleted(_node.Name, Attempt.Describe(outcome), status, Stopwatch.GetElapsedTime(started));
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
                Share(NodeMarkKind.Overloaded);
                break;
            case Failed { Kind: FailureKind.ClientGone or FailureKind.ClientBody }:
                // The client left or sent a bad body: no evidence about the node.
                break;
            case Failed failed:
                _failures++;
                _consecutiveFailures++;
                if (_state == NodeHealth.HalfOpen || (_state != NodeHealth.Drained && _consecutiveFailures >= _health.CircuitFailureThreshold))
                {
                    var wasOpen = _state == NodeHealth.Open;
                    OpenCircuit(failed.Reason);
                    if (!wasOpen)
                    {
                        Share(NodeMarkKind.CircuitOpen);
                    }
                }

                break;
        }

        requester.Tell(outcome);
    }

    private void MarkOverloaded(string rule)
    {
        if (_state == NodeHealth.Drained)
        {
            return;
        }

        if (_state != NodeHealth.Overloaded)
        {
            _log.Warning("Node {0} marked overloaded by rule {1}: weight {2} -> {3}", _node.Name, rule, _weight, WeightSteps.Marked);
        }

        _metrics.Marked(_node.Name);
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
            // Whole again, drained, or the circuit now decides: the restorer can forget this node.
            if (_state is NodeHealth.Healthy or NodeHealth.Drained)
            {
                Sender.Tell(new WeightRestorer.Restored(Self));
            }

            return;
        }

        _weight = WeightSteps.Next(_weight, _configuredWeight, _health.RestoreSteps);
        if (_weight >= _configuredWeight)
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

    private void Administer(Action change, NodeMarkKind kind, int weight = 0)
    {
        change();
        Share(kind, weight);
        Sender.Tell(Report());
    }

    // Tell the other proxies of the cluster (a no-op when not clustered).
    private void Share(NodeMarkKind kind, int weight = 0)
    {
        _observedBy = LocalObserver;
        _cluster.Tell(new ClusterBridge.Observed(_node.Name, NodeMark.Now(kind, weight)));
    }

    // Another proxy learnt this: apply it as if learnt here, without sharing it back.
    private void AdoptMark(Adopt adopt)
    {
        var mark = adopt.Mark;
        _observedBy = mark.Member;
        switch (mark.Kind)
        {
            case NodeMarkKind.Overloaded:
                MarkOverloaded($"observed by {mark.Member}");
                break;
            case NodeMarkKind.CircuitOpen when _state != NodeHealth.Drained:
                OpenCircuit($"observed by {mark.Member}");
                break;
            case NodeMarkKind.Drained:
                DrainNode();
                break;
            case NodeMarkKind.Enabled:
                EnableNode();
                break;
            case NodeMarkKind.WeightSet when mark.Weight is >= 1 and <= 256:
                ChangeConfiguredWeight(mark.Weight);
                break;
        }
    }

    private void DrainNode()
    {
        _log.Info("Node {0} drained by an operator", _node.Name);
        Timers.Cancel(HalfOpenKey);
        _state = NodeHealth.Drained;
        Publish();
    }

    private void EnableNode()
    {
        if (_state != NodeHealth.Drained)
        {
            return;
        }

        // Back in gently, like a node whose overload mark is lifting.
        _log.Info("Node {0} enabled by an operator", _node.Name);
        _consecutiveFailures = 0;
        _state = NodeHealth.Restoring;
        _weight = WeightSteps.Marked;
        Publish();
        _restorer.Tell(new WeightRestorer.Marked(Self));
    }

    private void ChangeConfiguredWeight(int weight)
    {
        _log.Info("Node {0} configured weight set to {1} by an operator", _node.Name, weight);
        _configuredWeight = weight;
        if (_state == NodeHealth.Healthy || _weight > weight)
        {
            _weight = weight;
        }

        Publish();
    }

    private void Publish()
    {
        var weight = EffectiveWeight;
        _balancer.Publish(_index, weight);
        _metrics.WeightChanged(_node.Name, weight);
    }

    private NodeStateReport Report() => new(
        _node.Name,
        _node.Address.Original,
        _state,
        EffectiveWeight,
        _configuredWeight,
        _inFlight,
        _requests,
        _overloads,
        _failures,
        _observedBy);

    /// <summary>Send this try to the node; the sender gets exactly one <see cref="TryOutcome"/>.</summary>
    public sealed record Forward(ProxyRequest Request);

    public sealed record GetNodeState
    {
        public static GetNodeState Instance { get; } = new();
    }

    /// <summary>Operator: take the node out of rotation (weight 0) until <see cref="Enable"/>. Answers the new state.</summary>
    public sealed record Drain
    {
        public static Drain Instance { get; } = new();
    }

    /// <summary>Operator: bring a drained node back, restoring its weight step by step. Answers the new state.</summary>
    public sealed record Enable
    {
        public static Enable Instance { get; } = new();
    }

    /// <summary>Operator: change the node's configured weight (1..256). Answers the new state.</summary>
    public sealed record SetWeight(int Weight);

    /// <summary>Another member of the cluster learnt this about the node.</summary>
    public sealed record Adopt(NodeMark Mark);

    /// <summary>What a try needs once it runs off the actor: the connection pool and the classifier lanes.</summary>
    private sealed record TryRoute(NodeForwarder Forwarder, string Node, JudgingLanes Lanes);

    private sealed record TryCompleted(IActorRef Requester, ForwardResult Result, long Started);

    /// <summary>An answer out with the classifiers, and who waits for the outcome.</summary>
    private sealed record Judging(IActorRef Requester, UpstreamAnswer Answer, long Started, JudgingLanes.Lane Lane);

    private sealed record HalfOpen
    {
        public static HalfOpen Instance { get; } = new();
    }
}

/// <summary>
/// What every NodeActor shares: health policy, the balancer it publishes to, the restorer, metrics,
/// and, when clustered, the replicator that shares marks with the other proxies.
/// </summary>
public sealed record NodeServices(HealthSettings Health, NodeBalancer Balancer, IActorRef Restorer, IProxyMetrics Metrics, IActorRef? HealthReplicator = null);

/// <summary>A node's health as operators see it; only <c>Healthy</c> means full weight and a closed circuit.</summary>
public enum NodeHealth
{
    Healthy,
    Overloaded,
    Restoring,
    Open,
    HalfOpen,
    Drained,
}

/// <summary>A NodeActor's answer to <see cref="NodeActor.GetNodeState"/> and to the operator actions.</summary>
public sealed record NodeStateReport(
    string Name,
    string Address,
    NodeHealth State,
    int Weight,
    int ConfiguredWeight,
    int InFlight,
    long Requests,
    long Overloads,
    long Failures,
    string ObservedBy = "local");

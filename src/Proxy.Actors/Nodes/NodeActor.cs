using System.Collections.Concurrent;
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
/// the node's health (overload mark, restoring weight, circuit, operator drain) as a
/// <see cref="NodeHealthMachine"/>: the machine decides, this actor carries out its effects
/// (the effective weight to the <see cref="NodeBalancer"/>, the restorer, the break timer, the
/// cluster, the log).
/// </summary>
public sealed class NodeActor : UntypedActor, IWithTimers
{
    private const string HalfOpenKey = "circuit-half-open";
    private const string RetireKey = "retire";
    private const string WatchJudgingKey = "watch-judging";
    private static readonly TimeSpan JudgingWatchInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RetireGrace = TimeSpan.FromSeconds(1);
    private const string LocalObserver = "local";

    private readonly int _index;
    private readonly NodeSettings _node;
    private readonly NodeBalancer _balancer;
    private readonly IActorRef _restorer;
    private readonly IProxyMetrics _metrics;
    private readonly IActorRef _cluster;
    private readonly NodeForwarder _forwarder;
    private readonly NodeSpanTags _spanTags;
    private readonly TryLauncher _launcher;
    private TryRoute _route;

    // Tries in flight that set out with the current route, and with each replaced route whose
    // classifier actors must outlive them. Kept here, not on the routes the messages carry.
    private int _routeInFlight;
    private readonly Dictionary<TryRoute, int> _replacedRoutes = [];

    // Replaced routes a RequestActor may still launch a try on: it read the route just before the
    // replacement and its TryLaunched is yet to come (see TryLauncher).
    private readonly HashSet<TryRoute> _routesInGrace = [];
    private readonly OperatorOverrideKeeper _overrides;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private NodeHealthMachine _health;
    private int _inFlight;
    private long _requests;
    private long _overloads;
    private long _failures;
    private NodeFailure? _lastFailure;
    private string? _failureLogged;
    private DateTimeOffset _failureLoggedAt;
    private string _observedBy = LocalObserver;
    private bool _retiring;
    private readonly TimeSpan _judgingLimit;
    private long _unjudged;
    private DateTime _nextStuckLog;

    /// <summary>An actor that starts afresh on every restart; <see cref="Props(int, NodeSettings, NodeForwarder, IReadOnlyList{ClassifierSpec}, NodeServices)"/> keeps operator overrides.</summary>
    public NodeActor(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services)
        : this(index, node, forwarder, classifiers, services, new OperatorOverrideKeeper())
    {
    }

    /// <param name="overrides">Where the operator's drain and configured weight outlive this incarnation (see <see cref="OperatorOverrideKeeper"/>).</param>
    public NodeActor(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services, OperatorOverrideKeeper overrides)
        : this(index, node, forwarder, classifiers, services, overrides, cold: false, new TryLauncher())
    {
    }

    /// <param name="cold">A node added at run time: it starts restoring from weight 1 (its first incarnation only).</param>
    /// <param name="launcher">Where RequestActors start this node's tries without a hop through this mailbox; each incarnation opens it.</param>
    public NodeActor(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services, OperatorOverrideKeeper overrides, bool cold, TryLauncher launcher)
    {
        _index = index;
        _node = node;
        _balancer = services.Balancer;
        _restorer = services.Restorer;
        _metrics = services.Metrics;
        _cluster = services.ClusterBridge ?? ActorRefs.Nobody;
        _judgingLimit = services.JudgingLimit;
        _overrides = overrides;
        // A restarted incarnation resumes under the operator's last word, so the weight PreStart
        // publishes already honours a drain: no Forward is routed to a drained node in between.
        if (overrides.Last is { } decided)
        {
            _health = NodeHealthMachine.Resume(node.Name, decided, services.Health);
            if (decided != NodeHealthMachine.Start(node.Name, node.Weight, services.Health).Override)
            {
                _log.Info("Node {0} restarted; keeps its operator override (drained: {1}, configured weight {2})", node.Name, decided.Drained, decided.ConfiguredWeight);
            }
        }
        else
        {
            _health = cold ? NodeHealthMachine.StartCold(node.Name, node.Weight, services.Health) : NodeHealthMachine.Start(node.Name, node.Weight, services.Health);
            overrides.Last = _health.Override;
        }

        // A restarted NodeActor adopts the classifiers its previous incarnation left running (see
        // PreRestart): tries still in flight hold their references.
        _forwarder = forwarder;
        _spanTags = NodeSpanTags.Of(node);
        _route = BuildRoute(overrides.Chain ?? new ClassifierChain(classifiers, 0));
        _launcher = launcher;
        _launcher.Open(Self, _route, _spanTags);
    }

    // A switch rather than ReceiveActor's handlers: those are compiled from expression trees when
    // the actor starts (System.Linq.Expressions' compiler and a dynamic method per actor type).
    // The request path's messages come first.
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case TryLaunched launched:
                TryStarted(launched.Route);
                break;
            case Forward forward:
                HandleForward(forward);
                break;
            case TryFailed failed:
                HandleFailed(failed);
                break;
            case TryDelivered delivered:
                HandleDelivered(delivered);
                break;
            case ClassifierActor.Classified classified:
                HandleClassified(classified);
                break;
            case AnswerCut cut:
                // Delivered, and then the rest of its body never came: the node's failure all the same.
                _failures++;
                var failure = new Failed(_node.Name, FailureKind.Dropped, ReachedNode: true, cut.Reason);
                NoteFailure(failure);
                Apply(_health.Failed(cut.Reason));
                break;
            case WeightRestorer.RaiseWeight:
                Apply(_health.RaiseWeight());
                break;
            case HalfOpen:
                Apply(_health.BreakElapsed());
                if (_health.State == NodeHealth.HalfOpen)
                {
                    _balancer.RequestProbe(_index);
                }

                break;
            case Drain:
                Administer(_health.Drain());
                break;
            case Enable:
                Administer(_health.Enable());
                break;
            case SetWeight set:
                Administer(_health.SetWeight(set.Weight, set.FromConfiguration));
                break;
            case Adopt adopt:
                AdoptMark(adopt);
                break;
            case GetNodeState:
                Sender.Tell(Report());
                break;
            case Retire:
                // A RequestActor that picked this node from the table just before it was retired may
                // still send a try: stay a moment, so that try is served rather than lost.
                Timers.StartSingleTimer(RetireKey, RetireGraceElapsed.Instance, RetireGrace);
                break;
            case RetireGraceElapsed:
                // No RequestActor starts a try here from now on: one that finds the launcher closed
                // sends a Forward, counted here (or dead letters once this actor has stopped).
                _launcher.Close();
                _retiring = true;
                StopOnceIdle();
                break;
            case RouteGraceElapsed grace:
                EndRouteGrace(grace.Route);
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    nameof(NodeActor),
                    $"node={_node.Name} state={_health.State} weight={_health.EffectiveWeight}/{_health.ConfiguredWeight} inFlight={_inFlight} requests={_requests} overloads={_overloads} failures={_failures}",
                    _route.Classifiers.SelectMany(lane => lane).ToArray()));
                break;
            case ReplaceClassifiers replace:
                ReplaceChain(replace);
                break;
            case WatchJudging:
                GiveUpOnStuckJudging();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    // An answer whose verdict has not come within the limit is delivered unjudged, as a classifier
    // delivers one that waited too long in its queue: the rule is broken (stuck in Matches, or its
    // actor stopped), and the client must not wait for ever. Its lane stays busy until the verdict
    // comes, if ever, so new answers go to the other lanes.
    private void GiveUpOnStuckJudging()
    {
        var judging = _overrides.Judging;
        if (judging.IsEmpty)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        foreach (var (ticket, since) in judging)
        {
            if (Stopwatch.GetElapsedTime(since, now) < _judgingLimit || !judging.TryRemove(ticket, out _))
            {
                continue;
            }

            var stuck = (Judging)ticket;
            _unjudged++;
            if (DateTime.UtcNow >= _nextStuckLog)
            {
                _nextStuckLog = DateTime.UtcNow + ClassifierActor.FaultLogInterval;
                _log.Warning(
                    "Node {0}: an answer waited over {1} s for the verdict of its classifier chain ({2}) and was delivered unjudged ({3} so far); a rule is stuck in its Matches or its actor has stopped",
                    _node.Name, _judgingLimit.TotalSeconds, string.Join(", ", stuck.Lane.Chain.Select(c => c.Path.Name)), _unjudged);
            }

            Conclude(stuck.Requester, new Answered(_node.Name, stuck.Answer), stuck.Answer.Status, Stopwatch.GetElapsedTime(stuck.Started), stuck.Route, stuck.Span);
        }
    }

    private void WatchJudgingWhileRulesRun()
    {
        if (!_route.Lanes.IsEmpty)
        {
            Timers.StartPeriodicTimer(WatchJudgingKey, WatchJudging.Instance, JudgingWatchInterval);
        }
    }

    public ITimerScheduler Timers { get; set; } = null!;

    // The chain's classifier actors, one lane per JudgingLanes slot, adopted from a previous
    // incarnation where it left them running.
    private TryRoute BuildRoute(ClassifierChain chain)
    {
        var lanes = chain.Rules.Count == 0 ? 0 : JudgingLanes.DefaultCount;
        var classifiers = Enumerable.Range(0, lanes).Select(lane => chain.Rules.Select(c => AdoptOrStart(c, lane, chain.Generation)).ToArray()).ToArray();
        return new TryRoute(_forwarder, _node.Name, new JudgingLanes(classifiers, chain.Rules.Select(c => c.Screen).ToArray()), classifiers, _overrides.Judging);
    }

    // A new chain (a configuration reload): new tries judge with it at once; the old chain's actors
    // stop once the last try that set out with them has concluded, so no verdict is lost.
    private void ReplaceChain(ReplaceClassifiers replace)
    {
        var old = _route;
        var chain = new ClassifierChain(replace.Rules, (_overrides.Chain?.Generation ?? 0) + 1);
        _overrides.Chain = chain;
        _route = BuildRoute(chain);
        _launcher.Open(Self, _route, _spanTags);
        WatchJudgingWhileRulesRun();
        _log.Info("Node {0} judges with the new classifier chain [{1}]", _node.Name, string.Join(", ", chain.Rules.Select(r => r.Name)));

        // Kept a moment even with no try in flight: a try launched on it just before is yet to be
        // counted (its TryLaunched is on its way), and its answer must find the chain running.
        _replacedRoutes[old] = _routeInFlight;
        _routesInGrace.Add(old);
        Timers.StartSingleTimer(old, new RouteGraceElapsed(old), RetireGrace);
        _routeInFlight = 0;
    }

    private void EndRouteGrace(TryRoute route)
    {
        _routesInGrace.Remove(route);
        if (_replacedRoutes.TryGetValue(route, out var left) && left == 0)
        {
            _replacedRoutes.Remove(route);
            StopClassifiers(route);
        }
    }

    // A try concluded: the common case is one counter; a replaced route's actors stop with its last try.
    private void TryEnded(TryRoute route)
    {
        if (ReferenceEquals(route, _route))
        {
            _routeInFlight--;
        }
        else if (_replacedRoutes.TryGetValue(route, out var left))
        {
            if (left > 1 || _routesInGrace.Contains(route))
            {
                _replacedRoutes[route] = Math.Max(0, left - 1);
            }
            else
            {
                _replacedRoutes.Remove(route);
                StopClassifiers(route);
            }
        }
    }

    // A replaced chain has names of its own (see AdoptOrStart), so none of its actors is the current chain's.
    private static void StopClassifiers(TryRoute route)
    {
        foreach (var classifier in route.Classifiers.SelectMany(lane => lane))
        {
            Context.Stop(classifier);
        }
    }

    // Lane 0 is /classifier-<rule>, lane k /classifier-<rule>~k ('~' is never in a rule's name); a
    // chain replaced at run time gets its own names, /classifier-<rule>@<generation>[~k].
    private static IActorRef AdoptOrStart(ClassifierSpec classifier, int lane, int generation)
    {
        var rule = generation == 0 ? classifier.Name : $"{classifier.Name}@{generation}";
        var name = lane == 0 ? "classifier-" + rule : $"classifier-{rule}~{lane}";
        var kept = Context.Child(name);
        return kept.IsNobody() ? Context.ActorOf(classifier.Props, name) : kept;
    }

    /// <summary>Props whose incarnations share one <see cref="OperatorOverrideKeeper"/>: use them for one actor.</summary>
    public static Props Props(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services) =>
        Props(index, node, forwarder, classifiers, services, new OperatorOverrideKeeper());

    /// <summary>Props for one node whose operator overrides live in <paramref name="overrides"/>, kept by the parent.</summary>
    public static Props Props(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services, OperatorOverrideKeeper overrides) =>
        Props(index, node, forwarder, classifiers, services, overrides, cold: false);

    /// <summary>As above; <paramref name="cold"/>: a node added at run time, which restores its weight from 1.</summary>
    public static Props Props(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services, OperatorOverrideKeeper overrides, bool cold) =>
        Props(index, node, forwarder, classifiers, services, overrides, cold, new TryLauncher());

    /// <summary>As above; RequestActors start the node's tries through <paramref name="launcher"/>, which its <see cref="NodeTarget"/> holds.</summary>
    public static Props Props(int index, NodeSettings node, NodeForwarder forwarder, IReadOnlyList<ClassifierSpec> classifiers, NodeServices services, OperatorOverrideKeeper overrides, bool cold, TryLauncher launcher) =>
        Akka.Actor.Props.Create(() => new NodeActor(index, node, forwarder, classifiers, services, overrides, cold, launcher));

    protected override void PreStart()
    {
        WatchJudgingWhileRulesRun();
        Publish();
        if (_health.State == NodeHealth.Restoring)
        {
            _restorer.Tell(new WeightRestorer.Marked(Self));
        }
    }

    // A crash while concluding a try must not leave its requester waiting forever: answer it as a
    // failure of this try before the restart (the restarted actor keeps the node's mailbox).
    protected override void PreRestart(Exception reason, object message)
    {
        switch (message)
        {
            case TryFailed failed:
                Fail(failed.Requester, failed.Span);
                break;
            case ClassifierActor.Classified { Ticket: Judging judging }:
                judging.Lane.Leave();
                if (judging.Route.Judging.TryRemove(judging, out _))
                {
                    judging.Answer.Dispose();
                    Fail(judging.Requester, judging.Span);
                }

                break;
        }

        void Fail(IActorRef requester, Activity? span)
        {
            var failed = new Failed(_node.Name, FailureKind.Dropped, ReachedNode: true, $"node actor failed: {reason.Message}");
            ProxyTracing.EndTry(span, failed, 0);
            requester.Tell(failed);
        }

        // Unlike the default, keep the classifier children (Akka restarts them along with this actor,
        // mailboxes intact): a try that finishes during the restart still reaches them.
        PostStop();
    }

    // Stopped or restarting: tries go to the mailbox as Forwards until an incarnation opens it again.
    protected override void PostStop() => _launcher.Close();

    // A try sent here rather than launched (no launcher open: a requester given this actor alone,
    // or this incarnation not started yet): counted, and started off this turn.
    private void HandleForward(Forward forward)
    {
        TryStarted(_route);
        var request = forward.Request;
        var trace = ProxyTracing.StartTry(request.Trace, request.Method, _spanTags, request.PathAndQuery, forward.Resend);
        _ = ForwardAsync(_route, request, trace, Sender, Self, Stopwatch.GetTimestamp(), leaveTurnFirst: true);
    }

    private void TryStarted(TryRoute route)
    {
        _requests++;
        _metrics.InFlightChanged(_node.Name, ++_inFlight);
        if (ReferenceEquals(route, _route))
        {
            _routeInFlight++;
        }
        else if (_replacedRoutes.TryGetValue(route, out var left))
        {
            _replacedRoutes[route] = left + 1;
        }
    }

    // Runs off the actor, so everything it needs comes in as arguments. An answer goes straight to
    // the first classifier, whose verdict comes back here as Classified, or, with nothing to judge,
    // straight to the requester; a failure comes back as TryFailed. Piping every result through
    // this actor first cost a message and a mailbox run per try.
    private static async Task ForwardAsync(TryRoute route, ProxyRequest request, TryTrace trace, IActorRef requester, IActorRef self, long started, bool leaveTurnFirst)
    {
        // From this actor's turn, off it at once (to the thread pool's global queue). Every try of
        // the node crosses the one mailbox, and sending the request (a system call on a connection
        // that is ready) made the turn long enough for tries to queue behind each other: at 1,024
        // connections a try waited 9 ms on average there (p99 51 ms), ADR 0007. A launched try is
        // sent on its RequestActor's turn, which serves that one request.
        if (leaveTurnFirst)
        {
            await Task.Yield();
        }

        ForwardResult result;
        try
        {
            result = await route.Forwarder.SendAsync(request, trace.TraceParent).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            result = new ForwardResult(null, new Failed(route.Node, FailureKind.Dropped, ReachedNode: true, ex.Message));
        }

        if (result.Answer is { } answer && !route.Lanes.IsEmpty && route.Lanes.TryEnter(answer, out var lane, out var first, out var rest))
        {
            var judging = new Judging(requester, answer, started, lane, route, trace.Span);
            var sent = Stopwatch.GetTimestamp();
            route.Judging[judging] = sent;
            first.Tell(new ClassifierActor.Classify(answer, rest, judging, sent), self);
        }
        else if (result.Answer is { } unjudged)
        {
            // Nothing to judge (no rule's screen took it, or no rule): the requester has its answer
            // now rather than after this actor's turn; the actor learns of it next, for the node's
            // health, counters and metrics. The try's span ends here, before the answer can reach
            // the client and end its request's span.
            var answered = new Answered(route.Node, unjudged);
            var delivered = new TryDelivered(answered, unjudged.Status, Stopwatch.GetElapsedTime(started), route);
            ProxyTracing.EndTry(trace.Span, answered, delivered.Status);
            requester.Tell(answered, self);
            self.Tell(delivered);
        }
        else
        {
            self.Tell(new TryFailed(requester, result.Failure!, started, route, trace.Span));
        }
    }

    // The requester already has the answer (and may have disposed of it): only the node's side is left.
    private void HandleDelivered(TryDelivered delivered) =>
        Conclude(null, delivered.Outcome, delivered.Status, delivered.Elapsed, delivered.Route, span: null);

    private void HandleFailed(TryFailed failed) =>
        Conclude(failed.Requester, failed.Failure, status: 0, Stopwatch.GetElapsedTime(failed.Started), failed.Route, failed.Span);

    private void HandleClassified(ClassifierActor.Classified classified)
    {
        var judging = (Judging)classified.Ticket;
        var (requester, answer, started, lane, route, span) = judging;
        lane.Leave();
        if (!route.Judging.TryRemove(judging, out _))
        {
            // Delivered unjudged already (WatchJudging): the answer is the requester's now.
            return;
        }

        var status = answer.Status;
        if (classified.Verdict == Verdict.Deliver)
        {
            Conclude(requester, new Answered(_node.Name, answer), status, Stopwatch.GetElapsedTime(started), route, span);
            return;
        }

        // Not delivered: release the connection and the buffer now.
        answer.Dispose();
        Conclude(
            requester,
            classified.Verdict == Verdict.Overloaded
                ? new Overloaded(_node.Name, classified.Rule!)
                : new Failed(_node.Name, FailureKind.Classified, ReachedNode: true, $"classified as failed by rule '{classified.Rule}'", classified.Rule),
            status,
            Stopwatch.GetElapsedTime(started),
            route,
            span);
    }

    private void Conclude(IActorRef? requester, TryOutcome outcome, int status, TimeSpan elapsed, TryRoute route, Activity? span)
    {
        TryEnded(route);
        ProxyTracing.EndTry(span, outcome, status);

        _inFlight = Math.Max(0, _inFlight - 1);
        _metrics.InFlightChanged(_node.Name, _inFlight);
        _metrics.TryCompleted(_node.Name, Attempt.Describe(outcome), status, elapsed);
        switch (outcome)
        {
            case Answered:
                Apply(_health.Delivered());
                break;
            case Overloaded overloaded:
                _overloads++;
                Apply(_health.Overloaded(overloaded.Rule));
                break;
            case Failed { Kind: FailureKind.ClientGone or FailureKind.ClientBody or FailureKind.ClientSlow }:
                // The client left or sent a bad body: no evidence about the node.
                Apply(_health.ClientFailed());
                break;
            case Failed failed:
                _failures++;
                NoteFailure(failed);
                Apply(_health.Failed(failed.Reason));
                break;
        }

        requester?.Tell(outcome);
        if (_retiring)
        {
            StopOnceIdle();
        }
    }

    // Removed from the node set: no new try picks this node; it stops once its last try has ended.
    private void StopOnceIdle()
    {
        if (_inFlight == 0)
        {
            Context.Stop(Self);
        }
    }

    // An operator's action: carried out (and shared) like any transition, answered with the new state.
    private void Administer(HealthTransition transition)
    {
        Apply(transition);
        Sender.Tell(Report());
    }

    // The machine decided; carry out what it asks, in the order the balancer and the restorer
    // expect (the weight is published before the restorer hears of the node).
    private void Apply(HealthTransition transition)
    {
        var (health, effects) = transition;
        _health = health;
        Remember(health);
        if (effects.Log is { } log)
        {
            Log(log);
        }

        if (effects.Has(HealthActions.CountMark))
        {
            _metrics.Marked(_node.Name);
        }

        if (effects.Has(HealthActions.CancelBreakTimer))
        {
            Timers.Cancel(HalfOpenKey);
        }

        if (effects.Has(HealthActions.ArmBreakTimer))
        {
            Timers.StartSingleTimer(HalfOpenKey, HalfOpen.Instance, health.Settings.CircuitBreakDuration);
        }

        if (effects.Has(HealthActions.PublishWeight))
        {
            Publish();
        }

        if (effects.Has(HealthActions.StartRestoring))
        {
            _restorer.Tell(new WeightRestorer.Marked(Self));
        }

        if (effects.Has(HealthActions.StopRestoring))
        {
            // Only the restorer's tick asks for this: the answer goes to whoever ticked.
            Sender.Tell(new WeightRestorer.Restored(Self));
        }

        if (effects.Share is { } kind)
        {
            Share(kind, effects.ShareWeight);
        }
    }

    // Record an operator's drain or weight before carrying out anything that could fail: a restart
    // resumes from what is recorded here.
    private void Remember(NodeHealthMachine health)
    {
        var drained = health.State == NodeHealth.Drained;
        if (_overrides.Last is not { } last || last.Drained != drained || last.ConfiguredWeight != health.ConfiguredWeight)
        {
            _overrides.Last = health.Override;
        }
    }

    private void Log(HealthLog log)
    {
        var args = log.Args.ToArray();
        switch (log.Level)
        {
            case LogLevel.WarningLevel:
                _log.Warning(log.Template, args);
                break;
            case LogLevel.ErrorLevel:
                _log.Error(log.Template, args);
                break;
            case LogLevel.DebugLevel:
                _log.Debug(log.Template, args);
                break;
            default:
                _log.Info(log.Template, args);
                break;
        }
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
                Apply(_health.AdoptOverloaded(mark.Member, RestoreTicksSince(mark)));
                break;
            case NodeMarkKind.CircuitOpen:
                Apply(_health.AdoptCircuitOpen(mark.Member));
                break;
            case NodeMarkKind.Drained:
                Apply(_health.AdoptDrained());
                break;
            case NodeMarkKind.Enabled:
                Apply(_health.AdoptEnabled(rampingFromDrain: mark.Weight > 0));
                break;
            case NodeMarkKind.WeightSet:
                Apply(_health.AdoptWeight(mark.Weight));
                break;
        }
    }

    // Whole restore ticks since the mark was made (by its member's clock; marks only come from members).
    private int RestoreTicksSince(NodeMark mark)
    {
        var age = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - mark.AtUnixMs;
        var tick = (long)_health.Settings.RestoreInterval.TotalMilliseconds;
        return age <= 0 || tick <= 0 ? 0 : (int)Math.Min(age / tick, int.MaxValue);
    }

    private void Publish()
    {
        var weight = _health.EffectiveWeight;
        _balancer.Publish(_index, weight);
        _metrics.WeightChanged(_node.Name, weight);
    }

    // The node's latest failure, for /debug/nodes, and a log line when its reason is new: one per
    // second at most while reasons alternate, and a reminder each minute while one persists.
    private void NoteFailure(Failed failed)
    {
        var now = DateTimeOffset.UtcNow;
        _lastFailure = new NodeFailure(Attempt.Describe(failed), failed.Reason, now);
        var sinceLogged = now - _failureLoggedAt;
        if ((failed.Reason != _failureLogged && sinceLogged >= TimeSpan.FromSeconds(1)) || sinceLogged >= TimeSpan.FromMinutes(1))
        {
            _failureLogged = failed.Reason;
            _failureLoggedAt = now;
            _log.Warning("Node {0} try failed ({1}): {2}", _node.Name, _lastFailure.Kind, failed.Reason);
        }
    }

    private NodeStateReport Report() => new(
        _node.Name,
        _node.Address.Original,
        _health.State,
        _health.EffectiveWeight,
        _health.ConfiguredWeight,
        _inFlight,
        _requests,
        _overloads,
        _failures,
        _observedBy,
        _lastFailure);

    /// <summary>
    /// Send this try to the node; the sender gets exactly one <see cref="TryOutcome"/>.
    /// <paramref name="Resend"/>: how many tries of this request went before it (its redispatch number).
    /// </summary>
    public sealed record Forward(ProxyRequest Request, int Resend = 0);

    /// <summary>
    /// An answer of this node was delivered and its streamed rest broke off (the node closed, or
    /// stalled past the response timeout): counted as a failed try, as nginx and HAProxy blame a
    /// server that aborts during the data.
    /// </summary>
    public sealed record AnswerCut(string Reason);

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

    /// <summary>
    /// Operator: change the node's configured weight (1..256). Answers the new state.
    /// <paramref name="FromConfiguration"/>: the weight came from a reloaded configuration, not the admin API (only the log line differs).
    /// </summary>
    public sealed record SetWeight(int Weight, bool FromConfiguration = false);

    /// <summary>The node was removed from the node set: finish the tries in flight, then stop.</summary>
    public sealed record Retire
    {
        public static Retire Instance { get; } = new();
    }

    private sealed record RetireGraceElapsed
    {
        public static RetireGraceElapsed Instance { get; } = new();
    }

    /// <summary>Another member of the cluster learnt this about the node.</summary>
    public sealed record Adopt(NodeMark Mark);

    /// <summary>A new classifier chain for this node (a configuration reload).</summary>
    public sealed record ReplaceClassifiers(IReadOnlyList<ClassifierSpec> Rules);

    /// <summary>
    /// What a try needs once it runs off the actor: the connection pool and the classifier lanes of
    /// the chain it set out with. Compared by reference: each chain builds one.
    /// </summary>
    internal sealed class TryRoute(NodeForwarder forwarder, string node, JudgingLanes lanes, IActorRef[][] classifiers, ConcurrentDictionary<object, long> judging)
    {
        /// <summary>The node's answers out with the classifiers (see <see cref="OperatorOverrideKeeper.Judging"/>).</summary>
        public ConcurrentDictionary<object, long> Judging { get; } = judging;

        public NodeForwarder Forwarder { get; } = forwarder;

        public string Node { get; } = node;

        public JudgingLanes Lanes { get; } = lanes;

        public IActorRef[][] Classifiers { get; } = classifiers;
    }

    /// <summary>
    /// Starts a node's tries on a RequestActor's turn instead of through the NodeActor's mailbox,
    /// which every try of the node would cross (ADR 0007): the try sets out at once with the route
    /// the current incarnation published, and the NodeActor is told after, to count it. The answer
    /// comes back as from a Forward. Closed (null), a requester sends a Forward instead.
    /// </summary>
    public sealed class TryLauncher
    {
        private volatile Opened? _opened;

        /// <summary>Starts the try and answers true, or answers false when no incarnation has it open.</summary>
        internal bool TryLaunch(ProxyRequest request, int resend, IActorRef requester)
        {
            if (_opened is not { } opened)
            {
                return false;
            }

            // Told before the try starts, so the NodeActor counts it before any outcome of it arrives.
            opened.Node.Tell(opened.Launched);
            var trace = ProxyTracing.StartTry(request.Trace, request.Method, opened.SpanTags, request.PathAndQuery, resend);
            _ = ForwardAsync(opened.Route, request, trace, requester, opened.Node, Stopwatch.GetTimestamp(), leaveTurnFirst: false);
            return true;
        }

        internal void Open(IActorRef node, TryRoute route, NodeSpanTags spanTags) => _opened = new Opened(node, route, spanTags, new TryLaunched(route));

        internal void Close() => _opened = null;

        private sealed record Opened(IActorRef Node, TryRoute Route, NodeSpanTags SpanTags, TryLaunched Launched);
    }

    /// <summary>A RequestActor started a try on this route (see <see cref="TryLauncher"/>).</summary>
    private sealed record TryLaunched(TryRoute Route);

    private sealed record RouteGraceElapsed(TryRoute Route);

    private sealed record TryFailed(IActorRef Requester, Failed Failure, long Started, TryRoute Route, Activity? Span);

    /// <summary>An answer no rule had to judge, already given to its requester (its try's span ended).</summary>
    private sealed record TryDelivered(Answered Outcome, int Status, TimeSpan Elapsed, TryRoute Route);

    /// <summary>An answer out with the classifiers, and who waits for the outcome.</summary>
    private sealed record Judging(IActorRef Requester, UpstreamAnswer Answer, long Started, JudgingLanes.Lane Lane, TryRoute Route, Activity? Span);

    private sealed record WatchJudging
    {
        public static WatchJudging Instance { get; } = new();
    }

    private sealed record HalfOpen
    {
        public static HalfOpen Instance { get; } = new();
    }
}

/// <summary>
/// What every NodeActor shares: health policy, the balancer it publishes to, the restorer, metrics,
/// and, when clustered, the bridge that shares marks with the other proxies (ADR 0014).
/// </summary>
public sealed record NodeServices(HealthSettings Health, NodeBalancer Balancer, IActorRef Restorer, IProxyMetrics Metrics, IActorRef? ClusterBridge = null)
{
    /// <summary>
    /// How long an answer may wait for its classifier chain's verdict before it is delivered unjudged
    /// (a rule stuck in its Matches, or a rule's actor that stopped): a bound on what a broken rule
    /// costs a client, who would otherwise wait for ever.
    /// </summary>
    public TimeSpan JudgingLimit { get; init; } = TimeSpan.FromSeconds(5);
}

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
    string ObservedBy = "local",
    NodeFailure? LastFailure = null);

/// <summary>A node's latest failed try: how it ended (as logs and metrics name it), why, and when.</summary>
public sealed record NodeFailure(string Kind, string Reason, DateTimeOffset At);

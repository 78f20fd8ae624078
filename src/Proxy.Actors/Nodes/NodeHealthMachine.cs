using System.Collections.Concurrent;
using System.Globalization;
using Akka.Event;
using Proxy.Actors.Clustering;
using Proxy.Actors.Weighting;

namespace Proxy.Actors.Nodes;

/// <summary>
/// A node's health as a state machine: pure transitions, one per event, each answering the next
/// machine and the <see cref="HealthEffects"/> the NodeActor must carry out (publish the weight,
/// tell the restorer, arm or cancel the break timer, share a mark, log). No actor, clock or I/O
/// here, so every rule is testable on its own.
/// </summary>
/// <remarks>
/// Rules every transition keeps:
/// <list type="bullet">
/// <item>An operator's drain wins: neither an overload nor an open circuit (seen here or adopted
/// from another member) replaces it; only <see cref="Enable"/> ends it.</item>
/// <item>The break of an open circuit runs from the moment it opened: failures while open (the
/// tries already in flight, the traffic of an all-zero pool) never push the half-open probe back.</item>
/// <item>The restoring weight never exceeds the configured weight, whatever the operator sets it to.</item>
/// </list>
/// </remarks>
public sealed record NodeHealthMachine
{
    /// <summary>The lowest weight an operator (or a configuration) may give a node.</summary>
    public const int MinWeight = 1;

    /// <summary>The highest weight an operator (or a configuration) may give a node.</summary>
    public const int MaxWeight = 256;

    private NodeHealthMachine(string node, HealthSettings settings, int configuredWeight)
    {
        Node = node;
        Settings = settings;
        ConfiguredWeight = configuredWeight;
        Weight = configuredWeight;
    }

    /// <summary>The node's name, as the log lines name it.</summary>
    public string Node { get; }

    public HealthSettings Settings { get; }

    public NodeHealth State { get; private init; } = NodeHealth.Healthy;

    /// <summary>The weight the node has when neither its circuit nor an operator keeps it out: while restoring, the step reached.</summary>
    public int Weight { get; private init; }

    public int ConfiguredWeight { get; private init; }

    public int ConsecutiveFailures { get; private init; }

    /// <summary>What the balancer gets: 0 while the circuit is open or the node drained.</summary>
    public int EffectiveWeight => State is NodeHealth.Open or NodeHealth.Drained ? 0 : Weight;

    /// <summary>What an operator decided about this node, the part of the machine a restart must not forget.</summary>
    public OperatorOverride Override => new(State == NodeHealth.Drained, ConfiguredWeight);

    /// <summary>A node as configured: healthy at full weight.</summary>
    public static NodeHealthMachine Start(string node, int configuredWeight, HealthSettings settings) =>
        new(node, settings, configuredWeight);

    /// <summary>A node added at run time: restoring from weight 1, like a node whose overload mark lifts.</summary>
    public static NodeHealthMachine StartCold(string node, int configuredWeight, HealthSettings settings) =>
        new(node, settings, configuredWeight) { State = NodeHealth.Restoring, Weight = WeightSteps.Marked };

    /// <summary>A node coming back (a restarted actor) under an operator's earlier word: drained stays drained.</summary>
    public static NodeHealthMachine Resume(string node, OperatorOverride decided, HealthSettings settings) =>
        new(node, settings, decided.ConfiguredWeight) { State = decided.Drained ? NodeHealth.Drained : NodeHealth.Healthy };

    /// <summary>An answer was delivered: the failure streak ends, and a half-open circuit closes.</summary>
    public HealthTransition Delivered()
    {
        if (State != NodeHealth.HalfOpen)
        {
            // The common case, once per answer: no allocation when nothing changes.
            return new(ConsecutiveFailures == 0 ? this : this with { ConsecutiveFailures = 0 }, HealthEffects.None);
        }

        return new(
            this with { State = NodeHealth.Restoring, Weight = WeightSteps.Marked, ConsecutiveFailures = 0 },
            new(HealthActions.PublishWeight | HealthActions.StartRestoring, Log: HealthLog.Info("Node {0} circuit closed; restoring weight", Node)));
    }

    /// <summary>A rule judged an answer an overload: mark the node and tell the other members.</summary>
    public HealthTransition Overloaded(string rule) => (this with { ConsecutiveFailures = 0 }).MarkOverloaded(rule, share: true);

    /// <summary>
    /// Another member marked the node overloaded, <paramref name="restoreTicksSince"/> restore
    /// ticks ago. A member that joins or restarts learns marks made before it came: their weight
    /// has come back that far at the members that made or adopted them, so it resumes from there
    /// (a mark whose restore is over changes nothing) rather than from weight 1, which left the
    /// fleet's weights apart for a whole restore.
    /// </summary>
    public HealthTransition AdoptOverloaded(string member, int restoreTicksSince = 0)
    {
        var marked = MarkOverloaded(member, share: false);
        if (restoreTicksSince <= 0 || marked.Machine.State != NodeHealth.Overloaded)
        {
            return marked;
        }

        var weight = WeightSteps.Marked;
        for (var tick = 0; tick < restoreTicksSince && weight < ConfiguredWeight; tick++)
        {
            weight = WeightSteps.Next(weight, ConfiguredWeight, Settings.RestoreSteps);
        }

        if (weight >= ConfiguredWeight)
        {
            return new(this, HealthEffects.None);
        }

        var log = State == NodeHealth.Overloaded ? null
            : HealthLog.Warning("Node {0} marked overloaded at member {1} {2} restore ticks ago: weight {3} -> {4}", Node, member, restoreTicksSince, Weight, weight);
        return new(
            marked.Machine with { State = weight > WeightSteps.Marked ? NodeHealth.Restoring : NodeHealth.Overloaded, Weight = weight },
            marked.Effects with { Log = log });
    }

    /// <summary>A try failed because of the node (refused, dropped, timed out, judged failed).</summary>
    public HealthTransition Failed(string reason)
    {
        var next = this with { ConsecutiveFailures = ConsecutiveFailures + 1 };
        if (State == NodeHealth.Open)
        {
            // Already broken: the break keeps the length it was given when it opened.
            return new(next, HealthEffects.None);
        }

        return State == NodeHealth.HalfOpen || (State != NodeHealth.Drained && next.ConsecutiveFailures >= Settings.CircuitFailureThreshold)
            ? next.OpenCircuit(reason, share: true)
            : new(next, HealthEffects.None);
    }

    /// <summary>A try failed because of the client (it left, or sent a bad body): no evidence about the node.</summary>
    public HealthTransition ClientFailed() => new(this, HealthEffects.None);

    /// <summary>Another member opened the node's circuit.</summary>
    public HealthTransition AdoptCircuitOpen(string member) =>
        State is NodeHealth.Drained or NodeHealth.Open
            ? new(this, HealthEffects.None)
            : OpenCircuit($"observed by {member}", share: false);

    /// <summary>The restorer's tick: one step back towards the configured weight.</summary>
    public HealthTransition RaiseWeight()
    {
        if (State is not (NodeHealth.Overloaded or NodeHealth.Restoring))
        {
            // Whole again, drained, or the circuit now decides: the restorer can forget this node
            // (the circuit hands it back to the restorer when it closes).
            return new(this, State is NodeHealth.Healthy or NodeHealth.Drained ? new(HealthActions.StopRestoring) : HealthEffects.None);
        }

        var weight = WeightSteps.Next(Weight, ConfiguredWeight, Settings.RestoreSteps);
        return weight >= ConfiguredWeight
            ? new(
                this with { State = NodeHealth.Healthy, Weight = weight },
                new(HealthActions.PublishWeight | HealthActions.StopRestoring, Log: HealthLog.Info("Node {0} restored to weight {1}", Node, weight)))
            : new(this with { State = NodeHealth.Restoring, Weight = weight }, new(HealthActions.PublishWeight));
    }

    /// <summary>The break timer fired: one probe's worth of traffic decides (an answer closes, a failure reopens).</summary>
    public HealthTransition BreakElapsed() =>
        State == NodeHealth.Open
            ? new(this with { State = NodeHealth.HalfOpen, Weight = WeightSteps.Marked }, new(HealthActions.PublishWeight))
            : new(this, HealthEffects.None);

    /// <summary>Operator: take the node out of rotation until <see cref="Enable"/>.</summary>
    public HealthTransition Drain() => DrainNode(share: true);

    /// <summary>Another member's operator drained the node.</summary>
    public HealthTransition AdoptDrained() => DrainNode(share: false);

    /// <summary>Operator: bring a drained node back gently (a no-op, still shared, when it is not drained).</summary>
    public HealthTransition Enable() => EnableNode(share: true);

    /// <summary>
    /// Another member's operator enabled the node. A drained node comes back gently, as here. So does
    /// a healthy one when the enable brought the node back from a drain recently
    /// (<paramref name="rampingFromDrain"/>): this member missed the drain (it joined or restarted
    /// since), and the node its peers are easing back in must not get its full weight from here.
    /// </summary>
    public HealthTransition AdoptEnabled(bool rampingFromDrain = false)
    {
        if (!rampingFromDrain || State != NodeHealth.Healthy)
        {
            return EnableNode(share: false);
        }

        return new(
            this with { State = NodeHealth.Restoring, Weight = WeightSteps.Marked },
            new(
                HealthActions.PublishWeight | HealthActions.StartRestoring,
                Log: HealthLog.Info("Node {0} enabled by an operator at another member: back in from weight {1}", Node, WeightSteps.Marked)));
    }

    /// <summary>Operator: change the configured weight (<see cref="MinWeight"/>..<see cref="MaxWeight"/>; anything else is ignored).</summary>
    public HealthTransition SetWeight(int weight, bool fromConfiguration = false) =>
        ChangeConfiguredWeight(weight, share: true, fromConfiguration ? "a configuration reload" : "an operator");

    /// <summary>Another member's operator changed the configured weight (out of range: ignored).</summary>
    public HealthTransition AdoptWeight(int weight) => ChangeConfiguredWeight(weight, share: false, "an operator at another member");

    private HealthTransition MarkOverloaded(string rule, bool share)
    {
        if (State == NodeHealth.Drained)
        {
            // The operator's drain wins; not even shared, or the mark would replace the drain as
            // the node's latest mark in the cluster.
            return new(this, HealthEffects.None);
        }

        // What marked it: a rule here, or (adopted, not shared) the member whose rule did.
        var log = State == NodeHealth.Overloaded ? null
            : share ? HealthLog.Warning("Node {0} marked overloaded by rule {1}: weight {2} -> {3}", Node, rule, Weight, WeightSteps.Marked)
            : HealthLog.Warning("Node {0} marked overloaded at member {1}: weight {2} -> {3}", Node, rule, Weight, WeightSteps.Marked);
        return new(
            this with { State = NodeHealth.Overloaded, Weight = WeightSteps.Marked },
            new(
                HealthActions.CountMark | HealthActions.CancelBreakTimer | HealthActions.PublishWeight | HealthActions.StartRestoring,
                share ? NodeMarkKind.Overloaded : null,
                Log: log));
    }

    // Only from a closed or half-open circuit (never while drained): an open one keeps its break.
    private HealthTransition OpenCircuit(string reason, bool share) => new(
        this with { State = NodeHealth.Open },
        new(
            HealthActions.PublishWeight | HealthActions.ArmBreakTimer,
            share ? NodeMarkKind.CircuitOpen : null,
            Log: HealthLog.Warning("Node {0} circuit opened after {1} consecutive failures (last: {2})", Node, ConsecutiveFailures, reason)));

    private HealthTransition DrainNode(bool share) => new(
        this with { State = NodeHealth.Drained },
        new(
            HealthActions.CancelBreakTimer | HealthActions.PublishWeight,
            share ? NodeMarkKind.Drained : null,
            Log: HealthLog.Info("Node {0} drained by an operator", Node)));

    private HealthTransition EnableNode(bool share)
    {
        if (State != NodeHealth.Drained)
        {
            return new(this, share ? new(HealthActions.None, NodeMarkKind.Enabled) : HealthEffects.None);
        }

        // Back in gently, like a node whose overload mark is lifting. The shared mark carries the
        // weight it starts from: a member that missed the drain eases the node in too (AdoptEnabled).
        return new(
            this with { State = NodeHealth.Restoring, Weight = WeightSteps.Marked, ConsecutiveFailures = 0 },
            new(
                HealthActions.PublishWeight | HealthActions.StartRestoring,
                share ? NodeMarkKind.Enabled : null,
                share ? WeightSteps.Marked : 0,
                HealthLog.Info("Node {0} enabled by an operator", Node)));
    }

    private HealthTransition ChangeConfiguredWeight(int weight, bool share, string by)
    {
        if (weight is < MinWeight or > MaxWeight)
        {
            return new(this, HealthEffects.None);
        }

        // Healthy: the new weight at once. Otherwise the step reached stands, capped at the new
        // configured weight (the restorer, or the circuit and the operator, bring it the rest of the way).
        return new(
            this with { ConfiguredWeight = weight, Weight = State == NodeHealth.Healthy ? weight : Math.Min(Weight, weight) },
            new(
                HealthActions.PublishWeight,
                share ? NodeMarkKind.WeightSet : null,
                share ? weight : 0,
                HealthLog.Info("Node {0} configured weight set to {1} by {2}", Node, weight, by)));
    }
}

/// <summary>A transition's outcome: the next machine, and what the actor must do about it.</summary>
public readonly record struct HealthTransition(NodeHealthMachine Machine, HealthEffects Effects);

/// <summary>The effects of one transition, carried out by the NodeActor in this order: log, then the <see cref="HealthActions"/>, then the shared mark.</summary>
/// <param name="Actions">What to do with the balancer, the restorer, the break timer and the metrics.</param>
/// <param name="Share">A mark to tell the other members of the cluster, if any.</param>
/// <param name="ShareWeight">The weight that goes with a <see cref="NodeMarkKind.WeightSet"/> mark.</param>
/// <param name="Log">A line for the operators, if any.</param>
public sealed record HealthEffects(HealthActions Actions, NodeMarkKind? Share = null, int ShareWeight = 0, HealthLog? Log = null)
{
    public static HealthEffects None { get; } = new(HealthActions.None);

    public bool Has(HealthActions action) => (Actions & action) == action;
}

/// <summary>What a transition asks of the actor, besides sharing a mark and logging.</summary>
[Flags]
public enum HealthActions
{
    None = 0,

    /// <summary>Publish the effective weight to the balancer (and the weight metric).</summary>
    PublishWeight = 1,

    /// <summary>Tell the WeightRestorer the node was marked down: raise its weight on the coming ticks.</summary>
    StartRestoring = 2,

    /// <summary>Answer the restorer's tick with Restored: it can forget this node.</summary>
    StopRestoring = 4,

    /// <summary>Start the circuit's break: half-open after <see cref="HealthSettings.CircuitBreakDuration"/>.</summary>
    ArmBreakTimer = 8,

    /// <summary>Cancel a pending half-open.</summary>
    CancelBreakTimer = 16,

    /// <summary>Count an overload mark (metrics).</summary>
    CountMark = 32,
}

/// <summary>A log line for the operators: its level, its template (<c>{0}</c>-style) and its arguments.</summary>
public sealed record HealthLog(LogLevel Level, string Template, IReadOnlyList<object> Args)
{
    /// <summary>The line as it reads once formatted.</summary>
    public string Text => string.Format(CultureInfo.InvariantCulture, Template, [.. Args]);

    public static HealthLog Info(string template, params object[] args) => new(LogLevel.InfoLevel, template, args);

    public static HealthLog Warning(string template, params object[] args) => new(LogLevel.WarningLevel, template, args);
}

/// <summary>What an operator decided about a node (a drain, a configured weight): a restart keeps it.</summary>
public sealed record OperatorOverride(bool Drained, int ConfiguredWeight);

/// <summary>
/// Where a node's <see cref="OperatorOverride"/> outlives its NodeActor. The parent creates one per
/// node and puts it in the actor's Props, so every incarnation (a supervision restart re-runs the
/// constructor with the same Props arguments) finds the last override there. Written and read by
/// one incarnation at a time; volatile because successive incarnations may run on different threads.
/// </summary>
public sealed class OperatorOverrideKeeper
{
    private volatile OperatorOverride? _last;

    private volatile ClassifierChain? _chain;

    /// <summary>The last override an incarnation recorded, or null before the first one started.</summary>
    public OperatorOverride? Last
    {
        get => _last;
        set => _last = value;
    }

    /// <summary>The classifier chain a reload gave the node (null: the one it was created with); a restart keeps it.</summary>
    public ClassifierChain? Chain
    {
        get => _chain;
        set => _chain = value;
    }

    /// <summary>
    /// Answers out with the classifiers, and since when (a Stopwatch timestamp): added by the try's
    /// continuation, removed by the NodeActor when the verdict comes or when it gives up waiting.
    /// Kept here so a restarted incarnation still watches the answers its predecessor sent out.
    /// </summary>
    internal ConcurrentDictionary<object, long> Judging { get; } = new(ReferenceEqualityComparer.Instance);
}

/// <summary>A node's classifier chain and which replacement it is (0: as created).</summary>
public sealed record ClassifierChain(IReadOnlyList<Classification.ClassifierSpec> Rules, int Generation);

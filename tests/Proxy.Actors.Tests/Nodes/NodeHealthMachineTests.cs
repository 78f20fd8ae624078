using Akka.Event;
using Proxy.Actors.Clustering;
using Proxy.Actors.Nodes;
using Proxy.Actors.Weighting;
using Xunit;

namespace Proxy.Actors.Tests.Nodes;

/// <summary>The node health rules, transition by transition, without an actor system.</summary>
public sealed class NodeHealthMachineTests
{
    private const int Configured = 128;
    private static readonly HealthSettings Settings = new(RestoreSteps: 4, CircuitFailureThreshold: 3, CircuitBreakDuration: TimeSpan.FromSeconds(10));

    private static NodeHealthMachine Healthy() => NodeHealthMachine.Start("n1", Configured, Settings);

    /// <summary>A machine brought to <paramref name="state"/> the way a node gets there.</summary>
    private static NodeHealthMachine In(NodeHealth state)
    {
        var machine = state switch
        {
            NodeHealth.Healthy => Healthy(),
            NodeHealth.Overloaded => Healthy().Overloaded("shed").Machine,
            NodeHealth.Restoring => Healthy().Overloaded("shed").Machine.RaiseWeight().Machine,
            NodeHealth.Open => Fail(Healthy(), Settings.CircuitFailureThreshold),
            NodeHealth.HalfOpen => Fail(Healthy(), Settings.CircuitFailureThreshold).BreakElapsed().Machine,
            NodeHealth.Drained => Healthy().Drain().Machine,
            _ => throw new ArgumentOutOfRangeException(nameof(state)),
        };
        Assert.Equal(state, machine.State);
        return machine;
    }

    private static NodeHealthMachine Fail(NodeHealthMachine machine, int times)
    {
        for (var i = 0; i < times; i++)
        {
            machine = machine.Failed("refused").Machine;
        }

        return machine;
    }

    private static void AssertNothingToDo(HealthEffects effects) => Assert.Equal(HealthEffects.None, effects);

    private static void AssertLog(HealthEffects effects, LogLevel level, string text)
    {
        var log = Assert.IsType<HealthLog>(effects.Log);
        Assert.Equal(level, log.Level);
        Assert.Equal(text, log.Text);
    }

    [Fact]
    public void A_node_starts_healthy_at_its_configured_weight()
    {
        var machine = Healthy();

        Assert.Equal(NodeHealth.Healthy, machine.State);
        Assert.Equal(Configured, machine.Weight);
        Assert.Equal(Configured, machine.EffectiveWeight);
        Assert.Equal(Configured, machine.ConfiguredWeight);
        Assert.Equal(0, machine.ConsecutiveFailures);
    }

    // --- answers delivered ---

    [Fact]
    public void A_delivered_answer_ends_the_failure_streak_and_asks_for_nothing()
    {
        var (machine, effects) = Fail(Healthy(), 2).Delivered();

        Assert.Equal(0, machine.ConsecutiveFailures);
        Assert.Equal(NodeHealth.Healthy, machine.State);
        AssertNothingToDo(effects);
    }

    [Fact]
    public void A_delivered_answer_to_a_healthy_node_is_the_same_machine_nothing_allocated()
    {
        var healthy = Healthy();

        var (machine, effects) = healthy.Delivered();

        Assert.Same(healthy, machine);
        Assert.Same(HealthEffects.None, effects);
    }

    [Theory]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.Drained)]
    public void A_delivered_answer_leaves_any_state_but_half_open_as_it_is(NodeHealth state)
    {
        var before = In(state);

        var (machine, effects) = before.Delivered();

        Assert.Equal(state, machine.State);
        Assert.Equal(before.Weight, machine.Weight);
        Assert.Equal(before.EffectiveWeight, machine.EffectiveWeight);
        Assert.Equal(0, machine.ConsecutiveFailures);
        AssertNothingToDo(effects);
    }

    [Fact]
    public void A_delivered_answer_while_half_open_closes_the_circuit_and_restores_from_weight_one()
    {
        var (machine, effects) = In(NodeHealth.HalfOpen).Delivered();

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.Equal(0, machine.ConsecutiveFailures);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Null(effects.Share);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 circuit closed; restoring weight");
    }

    // --- overload verdicts ---

    [Fact]
    public void An_overload_drops_the_weight_to_one_starts_restoring_and_is_shared()
    {
        var (machine, effects) = Healthy().Overloaded("xmlrpc-overload");

        Assert.Equal(NodeHealth.Overloaded, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.Equal(Configured, machine.ConfiguredWeight);
        Assert.Equal(HealthActions.CountMark | HealthActions.CancelBreakTimer | HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Equal(NodeMarkKind.Overloaded, effects.Share);
        AssertLog(effects, LogLevel.WarningLevel, "Node n1 marked overloaded by rule xmlrpc-overload: weight 128 -> 1");
    }

    [Fact]
    public void An_overload_ends_the_failure_streak()
    {
        var machine = Fail(Healthy(), 2).Overloaded("shed").Machine;

        Assert.Equal(0, machine.ConsecutiveFailures);
        Assert.Equal(NodeHealth.Overloaded, machine.State);
    }

    [Fact]
    public void An_overload_while_already_marked_marks_again_without_a_second_log_line()
    {
        var (machine, effects) = In(NodeHealth.Overloaded).Overloaded("shed");

        Assert.Equal(NodeHealth.Overloaded, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.Weight);
        Assert.Equal(HealthActions.CountMark | HealthActions.CancelBreakTimer | HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Equal(NodeMarkKind.Overloaded, effects.Share);
        Assert.Null(effects.Log);
    }

    [Fact]
    public void An_overload_while_restoring_drops_the_step_reached_back_to_one()
    {
        var restoring = In(NodeHealth.Restoring);

        var (machine, effects) = restoring.Overloaded("shed");

        Assert.Equal(NodeHealth.Overloaded, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.Weight);
        AssertLog(effects, LogLevel.WarningLevel, $"Node n1 marked overloaded by rule shed: weight {restoring.Weight} -> 1");
    }

    [Theory]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.HalfOpen)]
    public void An_overload_on_a_broken_circuit_cancels_the_break_and_marks_the_node(NodeHealth state)
    {
        var (machine, effects) = In(state).Overloaded("shed");

        Assert.Equal(NodeHealth.Overloaded, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.True(effects.Has(HealthActions.CancelBreakTimer));
        Assert.True(effects.Has(HealthActions.StartRestoring));
    }

    [Fact]
    public void An_adopted_overload_marks_the_node_without_sharing_it_back()
    {
        var (machine, effects) = Healthy().AdoptOverloaded("akka.tcp://proxy@b:7301");

        Assert.Equal(NodeHealth.Overloaded, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.Equal(HealthActions.CountMark | HealthActions.CancelBreakTimer | HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Null(effects.Share);
        AssertLog(effects, LogLevel.WarningLevel, "Node n1 marked overloaded at member akka.tcp://proxy@b:7301: weight 128 -> 1");
    }

    [Fact]
    public void A_mark_made_before_this_member_came_resumes_its_restore_where_the_fleet_is()
    {
        // Made two ticks ago (4 steps to 128: 1 -> 33 -> 65): the members that saw it are at 65.
        var (machine, effects) = Healthy().AdoptOverloaded("b", restoreTicksSince: 2);

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(65, machine.EffectiveWeight);
        Assert.True(effects.Has(HealthActions.PublishWeight));
        Assert.True(effects.Has(HealthActions.StartRestoring));
        Assert.Null(effects.Share);
        AssertLog(effects, LogLevel.WarningLevel, "Node n1 marked overloaded at member b 2 restore ticks ago: weight 128 -> 65");
    }

    [Fact]
    public void A_mark_whose_restore_is_over_changes_nothing()
    {
        var healthy = Healthy();

        var (machine, effects) = healthy.AdoptOverloaded("b", restoreTicksSince: 4);

        Assert.Same(healthy, machine);
        Assert.Equal(HealthEffects.None, effects);
    }

    [Fact]
    public void An_overload_never_overrides_an_operator_drain_and_is_not_shared_over_it()
    {
        var drained = Fail(In(NodeHealth.Drained), 2);

        var (machine, effects) = drained.Overloaded("shed");

        Assert.Equal(NodeHealth.Drained, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(0, machine.ConsecutiveFailures);
        AssertNothingToDo(effects);
    }

    [Fact]
    public void An_adopted_overload_never_overrides_an_operator_drain()
    {
        var drained = In(NodeHealth.Drained);

        var (machine, effects) = drained.AdoptOverloaded("b");

        Assert.Equal(drained, machine);
        AssertNothingToDo(effects);
    }

    // --- node failures ---

    [Fact]
    public void Failures_below_the_threshold_only_count()
    {
        var machine = Healthy();
        for (var i = 1; i < Settings.CircuitFailureThreshold; i++)
        {
            var (next, effects) = machine.Failed("refused");
            AssertNothingToDo(effects);
            Assert.Equal(i, next.ConsecutiveFailures);
            Assert.Equal(NodeHealth.Healthy, next.State);
            machine = next;
        }
    }

    [Fact]
    public void The_failure_that_reaches_the_threshold_opens_the_circuit_arms_the_break_and_is_shared()
    {
        var (machine, effects) = Fail(Healthy(), Settings.CircuitFailureThreshold - 1).Failed("connection refused");

        Assert.Equal(NodeHealth.Open, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(Configured, machine.Weight);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.ArmBreakTimer, effects.Actions);
        Assert.Equal(NodeMarkKind.CircuitOpen, effects.Share);
        AssertLog(effects, LogLevel.WarningLevel, "Node n1 circuit opened after 3 consecutive failures (last: connection refused)");
    }

    [Theory]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    public void Failures_open_the_circuit_of_a_marked_node_too(NodeHealth state)
    {
        var (machine, effects) = Fail(In(state), Settings.CircuitFailureThreshold - 1).Failed("timeout");

        Assert.Equal(NodeHealth.Open, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.True(effects.Has(HealthActions.ArmBreakTimer));
    }

    [Fact]
    public void A_failure_while_open_does_not_rearm_the_break()
    {
        var open = In(NodeHealth.Open);

        var (machine, effects) = open.Failed("refused");

        Assert.Equal(NodeHealth.Open, machine.State);
        Assert.Equal(open.ConsecutiveFailures + 1, machine.ConsecutiveFailures);
        Assert.False(effects.Has(HealthActions.ArmBreakTimer));
        AssertNothingToDo(effects);
    }

    [Fact]
    public void Under_steady_failing_traffic_the_break_is_armed_once_so_the_probe_comes()
    {
        var machine = Healthy();
        var armed = 0;
        for (var i = 0; i < 50; i++)
        {
            var (next, effects) = machine.Failed("refused");
            armed += effects.Has(HealthActions.ArmBreakTimer) ? 1 : 0;
            machine = next;
        }

        Assert.Equal(1, armed);
        Assert.Equal(NodeHealth.HalfOpen, machine.BreakElapsed().Machine.State);
    }

    [Fact]
    public void A_failure_while_half_open_reopens_the_circuit_at_once_even_below_the_threshold()
    {
        // Opened by another member: no failure of its own yet.
        var halfOpen = Healthy().AdoptCircuitOpen("b").Machine.BreakElapsed().Machine;
        Assert.Equal(NodeHealth.HalfOpen, halfOpen.State);

        var (machine, effects) = halfOpen.Failed("refused");

        Assert.Equal(1, machine.ConsecutiveFailures);
        Assert.Equal(NodeHealth.Open, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.ArmBreakTimer, effects.Actions);
        Assert.Equal(NodeMarkKind.CircuitOpen, effects.Share);
        AssertLog(effects, LogLevel.WarningLevel, "Node n1 circuit opened after 1 consecutive failures (last: refused)");
    }

    [Fact]
    public void A_circuit_never_opens_on_a_drained_node()
    {
        var drained = In(NodeHealth.Drained);

        var (machine, effects) = Fail(drained, 10).Failed("refused");

        Assert.Equal(NodeHealth.Drained, machine.State);
        Assert.Equal(11, machine.ConsecutiveFailures);
        AssertNothingToDo(effects);
    }

    // --- client-caused failures ---

    [Theory]
    [InlineData(NodeHealth.Healthy)]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.HalfOpen)]
    [InlineData(NodeHealth.Drained)]
    public void A_failure_the_client_caused_changes_nothing(NodeHealth state)
    {
        var before = Fail(In(state), 1);

        var (machine, effects) = before.ClientFailed();

        Assert.Same(before, machine);
        AssertNothingToDo(effects);
    }

    // --- circuit opened by another member ---

    [Theory]
    [InlineData(NodeHealth.Healthy)]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    [InlineData(NodeHealth.HalfOpen)]
    public void An_adopted_open_circuit_opens_it_here_without_sharing_it_back(NodeHealth state)
    {
        var (machine, effects) = In(state).AdoptCircuitOpen("b");

        Assert.Equal(NodeHealth.Open, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.ArmBreakTimer, effects.Actions);
        Assert.Null(effects.Share);
        Assert.Contains("(last: observed by b)", Assert.IsType<HealthLog>(effects.Log).Text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_adopted_open_circuit_never_overrides_an_operator_drain()
    {
        var drained = In(NodeHealth.Drained);

        var (machine, effects) = drained.AdoptCircuitOpen("b");

        Assert.Equal(drained, machine);
        AssertNothingToDo(effects);
    }

    [Fact]
    public void An_adopted_open_circuit_does_not_rearm_a_break_already_running()
    {
        var open = In(NodeHealth.Open);

        var (machine, effects) = open.AdoptCircuitOpen("b");

        Assert.Equal(open, machine);
        AssertNothingToDo(effects);
    }

    // --- the half-open timer ---

    [Fact]
    public void The_end_of_the_break_half_opens_the_circuit_at_weight_one()
    {
        var open = In(NodeHealth.Open);

        var (machine, effects) = open.BreakElapsed();

        Assert.Equal(NodeHealth.HalfOpen, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.Equal(open.ConsecutiveFailures, machine.ConsecutiveFailures);
        Assert.Equal(new HealthEffects(HealthActions.PublishWeight), effects);
    }

    [Theory]
    [InlineData(NodeHealth.Healthy)]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    [InlineData(NodeHealth.HalfOpen)]
    [InlineData(NodeHealth.Drained)]
    public void A_late_end_of_break_is_ignored_unless_the_circuit_is_open(NodeHealth state)
    {
        var before = In(state);

        var (machine, effects) = before.BreakElapsed();

        Assert.Same(before, machine);
        AssertNothingToDo(effects);
    }

    // --- the restorer's ticks ---

    [Fact]
    public void Restore_ticks_climb_back_to_the_configured_weight_then_release_the_node_from_the_restorer()
    {
        var machine = In(NodeHealth.Overloaded);
        var weights = new List<int>();
        HealthEffects effects;
        do
        {
            (machine, effects) = machine.RaiseWeight();
            weights.Add(machine.EffectiveWeight);
            if (machine.State == NodeHealth.Restoring)
            {
                Assert.Equal(new HealthEffects(HealthActions.PublishWeight), effects);
            }
        }
        while (machine.State != NodeHealth.Healthy);

        Assert.Equal([33, 65, 97, 128], weights);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.StopRestoring, effects.Actions);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 restored to weight 128");
    }

    [Theory]
    [InlineData(NodeHealth.Healthy)]
    [InlineData(NodeHealth.Drained)]
    public void A_tick_for_a_whole_or_drained_node_only_releases_it_from_the_restorer(NodeHealth state)
    {
        var before = In(state);

        var (machine, effects) = before.RaiseWeight();

        Assert.Same(before, machine);
        Assert.Equal(new HealthEffects(HealthActions.StopRestoring), effects);
    }

    [Theory]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.HalfOpen)]
    public void A_tick_while_the_circuit_decides_changes_nothing_and_keeps_the_node_with_the_restorer(NodeHealth state)
    {
        var before = In(state);

        var (machine, effects) = before.RaiseWeight();

        Assert.Same(before, machine);
        AssertNothingToDo(effects);
    }

    // --- operator: drain and enable ---

    [Theory]
    [InlineData(NodeHealth.Healthy)]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.HalfOpen)]
    [InlineData(NodeHealth.Drained)]
    public void A_drain_takes_the_node_out_of_rotation_from_any_state_and_cancels_the_break(NodeHealth state)
    {
        var (machine, effects) = In(state).Drain();

        Assert.Equal(NodeHealth.Drained, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(HealthActions.CancelBreakTimer | HealthActions.PublishWeight, effects.Actions);
        Assert.Equal(NodeMarkKind.Drained, effects.Share);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 drained by an operator");
    }

    [Fact]
    public void An_adopted_drain_is_not_shared_back()
    {
        var (machine, effects) = Healthy().AdoptDrained();

        Assert.Equal(NodeHealth.Drained, machine.State);
        Assert.Equal(HealthActions.CancelBreakTimer | HealthActions.PublishWeight, effects.Actions);
        Assert.Null(effects.Share);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 drained by an operator");
    }

    [Fact]
    public void Enabling_a_drained_node_brings_it_back_gently_from_weight_one()
    {
        var drained = Fail(In(NodeHealth.Drained), 4);

        var (machine, effects) = drained.Enable();

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.Equal(0, machine.ConsecutiveFailures);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Equal(NodeMarkKind.Enabled, effects.Share);
        Assert.Equal(WeightSteps.Marked, effects.ShareWeight);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 enabled by an operator");
    }

    [Theory]
    [InlineData(NodeHealth.Healthy)]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Open)]
    public void Enabling_a_node_that_is_not_drained_changes_nothing_but_is_still_shared(NodeHealth state)
    {
        var before = In(state);

        var (machine, effects) = before.Enable();

        Assert.Same(before, machine);
        Assert.Equal(new HealthEffects(HealthActions.None, NodeMarkKind.Enabled), effects);
    }

    [Fact]
    public void An_adopted_enable_brings_a_drained_node_back_without_sharing_it()
    {
        var (machine, effects) = In(NodeHealth.Drained).AdoptEnabled();

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Null(effects.Share);
    }

    [Fact]
    public void A_member_that_missed_the_drain_eases_in_a_healthy_node_another_member_just_brought_back()
    {
        var (machine, effects) = Healthy().AdoptEnabled(rampingFromDrain: true);

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(WeightSteps.Marked, machine.EffectiveWeight);
        Assert.Equal(HealthActions.PublishWeight | HealthActions.StartRestoring, effects.Actions);
        Assert.Null(effects.Share);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 enabled by an operator at another member: back in from weight 1");
    }

    [Theory]
    [InlineData(NodeHealth.Overloaded)]
    [InlineData(NodeHealth.Restoring)]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.HalfOpen)]
    public void An_adopted_return_from_a_drain_leaves_a_node_already_below_its_weight_to_its_own_recovery(NodeHealth state)
    {
        var before = In(state);

        var (machine, effects) = before.AdoptEnabled(rampingFromDrain: true);

        Assert.Same(before, machine);
        AssertNothingToDo(effects);
    }

    [Fact]
    public void An_adopted_enable_of_a_node_that_is_not_drained_does_nothing()
    {
        var healthy = Healthy();

        var (machine, effects) = healthy.AdoptEnabled();

        Assert.Same(healthy, machine);
        AssertNothingToDo(effects);
    }

    // --- operator: configured weight ---

    [Theory]
    [InlineData(64)]
    [InlineData(200)]
    public void A_weight_set_on_a_healthy_node_takes_effect_at_once(int weight)
    {
        var (machine, effects) = Healthy().SetWeight(weight);

        Assert.Equal(NodeHealth.Healthy, machine.State);
        Assert.Equal(weight, machine.ConfiguredWeight);
        Assert.Equal(weight, machine.EffectiveWeight);
        Assert.Equal(HealthActions.PublishWeight, effects.Actions);
        Assert.Equal(NodeMarkKind.WeightSet, effects.Share);
        Assert.Equal(weight, effects.ShareWeight);
        AssertLog(effects, LogLevel.InfoLevel, $"Node n1 configured weight set to {weight} by an operator");
    }

    [Fact]
    public void A_weight_from_a_reloaded_configuration_is_logged_as_such_and_shared_like_an_operators()
    {
        var (machine, effects) = Healthy().SetWeight(64, fromConfiguration: true);

        Assert.Equal(64, machine.EffectiveWeight);
        Assert.Equal(NodeMarkKind.WeightSet, effects.Share);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 configured weight set to 64 by a configuration reload");
    }

    [Fact]
    public void A_weight_set_while_restoring_keeps_the_step_reached_and_restores_up_to_the_new_weight()
    {
        var restoring = In(NodeHealth.Restoring);
        Assert.Equal(33, restoring.Weight);

        var (machine, _) = restoring.SetWeight(64);

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(33, machine.EffectiveWeight);
        Assert.Equal(64, machine.ConfiguredWeight);
        machine = machine.RaiseWeight().Machine;
        Assert.Equal((NodeHealth.Restoring, 49), (machine.State, machine.EffectiveWeight));
        machine = machine.RaiseWeight().Machine;
        Assert.Equal((NodeHealth.Healthy, 64), (machine.State, machine.EffectiveWeight));
    }

    [Fact]
    public void A_weight_set_below_the_restoring_weight_caps_it_at_the_new_configured_weight()
    {
        var restoring = In(NodeHealth.Restoring).RaiseWeight().Machine;
        Assert.Equal(65, restoring.Weight);

        var (machine, effects) = restoring.SetWeight(40);

        Assert.Equal(NodeHealth.Restoring, machine.State);
        Assert.Equal(40, machine.EffectiveWeight);
        Assert.True(effects.Has(HealthActions.PublishWeight));
        var (restored, tick) = machine.RaiseWeight();
        Assert.Equal((NodeHealth.Healthy, 40), (restored.State, restored.EffectiveWeight));
        Assert.True(tick.Has(HealthActions.StopRestoring));
    }

    [Fact]
    public void A_weight_set_while_overloaded_keeps_the_mark_and_never_exceeds_the_new_weight()
    {
        var (machine, _) = In(NodeHealth.Overloaded).SetWeight(1);

        Assert.Equal(NodeHealth.Overloaded, machine.State);
        Assert.Equal(1, machine.EffectiveWeight);
        Assert.Equal(1, machine.ConfiguredWeight);
        Assert.Equal((NodeHealth.Healthy, 1), (machine.RaiseWeight().Machine.State, machine.RaiseWeight().Machine.EffectiveWeight));
    }

    [Theory]
    [InlineData(NodeHealth.Open)]
    [InlineData(NodeHealth.Drained)]
    public void A_weight_set_on_a_node_out_of_rotation_keeps_it_out(NodeHealth state)
    {
        var (machine, effects) = In(state).SetWeight(64);

        Assert.Equal(state, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(64, machine.ConfiguredWeight);
        Assert.Equal(64, machine.Weight);
        Assert.True(effects.Has(HealthActions.PublishWeight));
    }

    [Fact]
    public void An_adopted_weight_applies_without_being_shared_back()
    {
        var (machine, effects) = Healthy().AdoptWeight(32);

        Assert.Equal(32, machine.EffectiveWeight);
        Assert.Equal(HealthActions.PublishWeight, effects.Actions);
        Assert.Null(effects.Share);
        AssertLog(effects, LogLevel.InfoLevel, "Node n1 configured weight set to 32 by an operator at another member");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(257)]
    public void A_weight_out_of_range_is_ignored(int weight)
    {
        var healthy = Healthy();

        Assert.Equal((healthy, HealthEffects.None), (healthy.SetWeight(weight).Machine, healthy.SetWeight(weight).Effects));
        Assert.Equal((healthy, HealthEffects.None), (healthy.AdoptWeight(weight).Machine, healthy.AdoptWeight(weight).Effects));
    }

    // --- what a restart keeps ---

    [Fact]
    public void The_operator_override_is_the_drain_and_the_configured_weight()
    {
        Assert.Equal(new OperatorOverride(false, Configured), Healthy().Override);
        Assert.Equal(new OperatorOverride(true, 64), Healthy().SetWeight(64).Machine.Drain().Machine.Override);
        Assert.Equal(new OperatorOverride(false, Configured), In(NodeHealth.Open).Override);
    }

    [Fact]
    public void A_machine_resumed_under_a_drain_starts_out_of_rotation_until_enabled()
    {
        var machine = NodeHealthMachine.Resume("n1", new OperatorOverride(Drained: true, ConfiguredWeight: 64), Settings);

        Assert.Equal(NodeHealth.Drained, machine.State);
        Assert.Equal(0, machine.EffectiveWeight);
        Assert.Equal(64, machine.ConfiguredWeight);
        var enabled = machine.Enable().Machine;
        Assert.Equal((NodeHealth.Restoring, WeightSteps.Marked), (enabled.State, enabled.EffectiveWeight));
    }

    [Fact]
    public void A_machine_resumed_without_a_drain_starts_healthy_at_the_operators_weight()
    {
        var machine = NodeHealthMachine.Resume("n1", new OperatorOverride(Drained: false, ConfiguredWeight: 64), Settings);

        Assert.Equal(NodeHealth.Healthy, machine.State);
        Assert.Equal(64, machine.EffectiveWeight);
    }
}

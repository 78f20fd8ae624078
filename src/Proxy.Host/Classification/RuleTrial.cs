using Akka.Actor;
using Proxy.Actors.Classification;

namespace Proxy.Host.Classification;

/// <summary>
/// Starts one actor of a rule before the rule is accepted, in a small actor system of its own, and
/// reports what its constructor threw. A classifier type whose constructor reads its settings
/// (<c>rule.Require("Marker")</c>, as plugins and hosts of one's own do) would otherwise pass
/// start-up or a reload and fail on every node, where an actor that cannot start leaves each
/// answer sent to it unjudged and its request waiting.
/// </summary>
internal static class RuleTrial
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly Lazy<ActorSystem> System = new(() => ActorSystem.Create(
        "proxy-rule-trial", "akka { loglevel = OFF, stdout-loglevel = OFF, log-dead-letters = off, coordinated-shutdown.run-by-clr-shutdown-hook = off }"));

    /// <summary>Throws <see cref="ClassifierConfigurationException"/> (the rule's own, or one naming its Type) when the rule's actor cannot start.</summary>
    public static void Start(ClassifierConfiguration rule, string type, Props props)
    {
        var started = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        // On the default dispatcher: the trial system has none of the host's (a slow rule's own, say).
        var trial = System.Value.ActorOf(Props.Create(() => new Trial(props.WithDispatcher(Akka.Dispatch.Dispatchers.DefaultDispatcherId), started)));
        try
        {
            if (!started.Task.Wait(Patience))
            {
                throw new ClassifierConfigurationException($"{rule.Section.Path}:Type", $"the '{type}' rule's actor did not start within {Patience.TotalSeconds:0} s");
            }
        }
        finally
        {
            System.Value.Stop(trial);
        }

        if (started.Task.Result is not { } failure)
        {
            return;
        }

        // Under Akka's ActorInitializationException, and the reflection of Props.Create(type, args).
        var innermost = failure;
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is ClassifierConfigurationException rejected)
            {
                throw rejected;
            }

            innermost = e;
        }

        throw new ClassifierConfigurationException($"{rule.Section.Path}:Type", $"the '{type}' rule cannot start: {innermost.GetType().Name}: {innermost.Message}");
    }

    // Starts the rule as its child and tells whether it started: its Identify answer, or its failure.
    private sealed class Trial : ReceiveActor
    {
        private readonly Props _rule;
        private readonly TaskCompletionSource<Exception?> _started;

        public Trial(Props rule, TaskCompletionSource<Exception?> started)
        {
            _rule = rule;
            _started = started;
            Receive<ActorIdentity>(_ => _started.TrySetResult(null));
        }

        protected override void PreStart() => Context.ActorOf(_rule).Tell(new Identify(null), Self);

        protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(ex =>
        {
            _started.TrySetResult(ex);
            return Directive.Stop;
        });
    }
}

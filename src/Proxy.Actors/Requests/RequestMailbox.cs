using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace Proxy.Actors.Requests;

/// <summary>
/// The mailbox of a RequestActor: a small locked queue. The default mailbox's lock-free queue starts
/// with a 32-slot segment (~800 bytes) per actor, and a RequestActor rarely holds more than one
/// message. Its clean-up answers any request left in it when the actor stops.
/// </summary>
public sealed class RequestMailbox : MailboxType, IProducesMessageQueue<RequestMailbox.SmallMessageQueue>
{
    /// <summary>The mailbox id RequestActors are deployed with.</summary>
    public const string Id = "proxy.request-mailbox";

    public RequestMailbox(Settings settings, Config config)
        : base(settings, config)
    {
    }

    // The pool's shards start on several threads at once, and the system's settings are not
    // thread-safe to change.
    private static readonly object DefineGate = new();

    /// <summary>The configuration that defines <see cref="Id"/>; see <see cref="EnsureDefined"/>.</summary>
    public static Config DefaultConfig { get; } = ConfigurationFactory.ParseString(
        $"{Id}.mailbox-type = \"{typeof(RequestMailbox).AssemblyQualifiedName}\"");

    /// <summary>Adds <see cref="DefaultConfig"/> to the system's configuration unless it already defines <see cref="Id"/>; once per system.</summary>
    public static void EnsureDefined(ActorSystem system)
    {
        lock (DefineGate)
        {
            if (!system.Settings.Config.HasPath(Id))
            {
                // Each injection wraps the configuration again, hence the check.
                system.Settings.InjectTopLevelFallback(DefaultConfig);
            }
        }
    }

    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new SmallMessageQueue();

    /// <summary>Unbounded, multi-producer, guarded by a lock that is almost never contended.</summary>
    public sealed class SmallMessageQueue : IMessageQueue, IUnboundedMessageQueueSemantics
    {
        private readonly Queue<Envelope> _queue = new(2);

        public bool HasMessages
        {
            get
            {
                lock (_queue)
                {
                    return _queue.Count > 0;
                }
            }
        }

        public int Count
        {
            get
            {
                lock (_queue)
                {
                    return _queue.Count;
                }
            }
        }

        public void Enqueue(IActorRef receiver, Envelope envelope)
        {
            lock (_queue)
            {
                _queue.Enqueue(envelope);
            }
        }

        public bool TryDequeue(out Envelope envelope)
        {
            lock (_queue)
            {
                return _queue.TryDequeue(out envelope);
            }
        }

        // The actor stopped with messages left: a request handed to it just then is answered, not lost.
        public void CleanUp(IActorRef owner, IMessageQueue deadletters)
        {
            while (TryDequeue(out var envelope))
            {
                if (envelope.Message is RequestSupervisor.Dispatch dispatch)
                {
                    dispatch.Completion.TrySetResult(new Refused(502, "proxy error: the request actor stopped", null, []));
                }

                deadletters.Enqueue(owner, envelope);
            }
        }
    }
}

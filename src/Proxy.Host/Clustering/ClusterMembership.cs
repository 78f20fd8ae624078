using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Remote.Transport.DotNetty;
using Akka.Hosting;
using Akka.Hosting.Logging;
using Proxy.Host.Hosting;
using Proxy.Actors.Clustering;
using Proxy.Actors.Tls;
using Proxy.Host.Configuration;

namespace Proxy.Host.Clustering;

/// <summary>
/// The proxy's cluster membership, in an actor system of its own beside the serving one (ADR 0014).
/// Akka lets a member that was downed, removed or quarantined back only as a new actor system, so
/// this service runs membership in incarnations: when one is lost it starts the next, which finds
/// the fleet again and rejoins, while the serving system goes on proxying on what it knows.
/// </summary>
public sealed class ClusterMembership : BackgroundService
{
    private static readonly TimeSpan Round = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RestartDelay = TimeSpan.FromSeconds(1);

    private readonly Configuration.ClusterSettings _settings;
    private readonly ClusterBridgeHandle _bridge;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly IReadOnlyList<Address> _seeds;
    private readonly string _protocol;
    private readonly Address _self;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DateTime _started = DateTime.UtcNow;
    private volatile Incarnation? _current;
    private int _incarnations;

    public ClusterMembership(ProxySettings settings, ClusterBridgeHandle bridge, ILoggerFactory loggers, Telemetry.PrometheusProxyMetrics metrics)
    {
        metrics.TrackClusterMembers(() => Describe().Members.Count(m => m.Reachable && m.Status == "up"));
        _settings = settings.Cluster ?? throw new InvalidOperationException("the cluster is not enabled");
        _bridge = bridge;
        _loggers = loggers;
        _log = loggers.CreateLogger<ClusterMembership>();
        // Seeds are written akka.tcp://; over TLS Akka's transport names its addresses akka.ssl.tcp://.
        _protocol = _settings.Tls is null ? "akka.tcp" : "akka.ssl.tcp";
        _self = new Address(_protocol, SystemName, _settings.Host, _settings.Port);
        _seeds = _settings.Seeds.Select(Address.Parse).Select(a => new Address(_protocol, a.System, a.Host, a.Port)).Where(a => !a.Equals(_self)).Distinct().ToArray();
    }

    /// <summary>The actor system name every member shares (it is part of every seed address).</summary>
    public const string SystemName = "proxy";

    /// <summary>How long <c>/readyz</c> waits for this member to join and learn the fleet's marks before it says ready anyway.</summary>
    public static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(20);

    /// <summary>
    /// True once this member has joined and read the marks from a majority (so a restarted member
    /// does not send its first calls to a node an operator drained), or <see cref="SettleLimit"/>
    /// after start: serving never depends on the cluster, so a fleet that cannot form is ready alone.
    /// </summary>
    public bool Settled => _synced.Task.IsCompleted || DateTime.UtcNow - _started > SettleLimit;

    /// <summary>This member's view of the fleet, for <c>/debug/cluster</c> and the metrics.</summary>
    public MembershipView Describe()
    {
        var current = _current;
        var expected = _seeds.Select(s => s.ToString()).ToArray();
        if (current is null)
        {
            return new MembershipView(_self.ToString(), "rejoining", _incarnations, null, [], expected);
        }

        var cluster = Cluster.Get(current.System);
        var state = cluster.State;
        var members = state.Members
            .Select(m => new MemberView(m.Address.ToString(), m.Status.ToString().ToLowerInvariant(), m.Roles.ToArray(), !state.Unreachable.Contains(m)))
            .OrderBy(m => m.Address, StringComparer.Ordinal)
            .ToArray();
        var selfStatus = cluster.SelfMember.Status;
        var status = selfStatus is not (MemberStatus.Up or MemberStatus.WeaklyUp) ? "joining"
            : state.Unreachable.Count > 0 ? "partitioned"
            : members.Length == 1 && expected.Length > 0 ? "alone"
            : "up";
        return new MembershipView(_self.ToString(), status, current.Number, state.Leader?.ToString(), members, expected);
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        IActorRef bridge;
        try
        {
            bridge = await _bridge.WaitAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        DisableLeakSampling();
        IReadOnlyList<Address> knownPeers = [];
        var tlsLosses = 0;
        while (!stopping.IsCancellationRequested)
        {
            var number = Interlocked.Increment(ref _incarnations);
            ActorSystem system;
            try
            {
                system = ActorSystem.Create(SystemName, Setup());
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                // The previous incarnation's port can take a moment to be released.
                _log.LogWarning("Could not start cluster membership incarnation {Number} on {Address}: {Reason}; retrying", number, _self, ex.Message);
                await Delay(RestartDelay, stopping);
                continue;
            }

            var lost = new TaskCompletionSource<Loss>(TaskCreationOptions.RunContinuationsAsynchronously);
            var cluster = Cluster.Get(system);
            cluster.RegisterOnMemberRemoved(() => lost.TrySetResult(new Loss(TlsShutdown(system) ?? "this member was removed from the cluster (downed as unreachable, or the split-brain resolver chose the other side)", null)));
            _ = system.WhenTerminated.ContinueWith(_ => lost.TrySetResult(new Loss(TlsShutdown(system) ?? "its actor system stopped", null)), TaskScheduler.Default);
            var replicator = system.ActorOf(NodeHealthReplicator.Props(bridge, () => _synced.TrySetResult()), "node-health");
            var formation = system.ActorOf(ClusterFormation.Props(LookUpContactsAsync, knownPeers, members => lost.TrySetResult(new Loss("the fleet was split and this side is the smaller", members)), Round), "formation");
            var watch = system.ActorOf(IncarnationWatch.Props(reason => lost.TrySetResult(new Loss(reason, null)), [.. _seeds, .. knownPeers], [replicator, formation]), "incarnation-watch");
            // The watch can be stopped too (a PoisonPill through an actor selection): that ends the incarnation as well.
            _ = watch.WatchAsync().ContinueWith(_ => lost.TrySetResult(new Loss("its actor incarnation-watch stopped", null)), TaskScheduler.Default);
            bridge.Tell(new ClusterBridge.MembershipUp(replicator, cluster.SelfAddress.ToString()));
            _current = new Incarnation(system, number);
            _log.LogInformation("Cluster membership incarnation {Number} started at {Address}; split-brain resolver keep-majority, stable after {StableAfter}", number, _self, _settings.StableAfter);

            Loss? loss = null;
            try
            {
                loss = await lost.Task.WaitAsync(stopping);
            }
            catch (OperationCanceledException)
            {
            }

            bridge.Tell(new ClusterBridge.MembershipDown(replicator));
            var lastMembers = cluster.State.Members.Select(m => m.Address).Where(a => !a.Equals(_self)).ToArray();
            if (loss is null)
            {
                // Shutting down: leave gracefully so the others need not down this member.
                await LeaveAndStopAsync(cluster, system, leave: true);
                _current = null;
                return;
            }

            _current = null;
            knownPeers = loss.JoinInstead is { } members
                ? members.Select(Address.Parse).Where(a => !a.Equals(_self)).ToArray()
                : lastMembers.Union(knownPeers).ToArray();
            _log.LogWarning("Cluster membership incarnation {Number} lost: {Reason}. This member keeps serving on its own view and rejoins as a new incarnation", number, loss.Reason);
            // Giving way: leave, so the smaller cluster's members need not down this one. Downed,
            // removed or quarantined: there is nothing left to leave.
            await LeaveAndStopAsync(cluster, system, leave: loss.JoinInstead is not null);
            // Akka stops a system whose outgoing TLS handshake failed; while a peer keeps failing it
            // (an expired certificate, a stranger at a contact's address), back off up to 30 s.
            tlsLosses = TlsShutdown(system) is null ? 0 : tlsLosses + 1;
            await Delay(tlsLosses == 0 ? RestartDelay : TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, tlsLosses))), stopping);
        }
    }

    // Akka.Remote runs CoordinatedShutdown with this reason (internal to it) when a TLS handshake it
    // started fails: the member then looks removed, but the cause is the peer's certificate (or ours).
    private static string? TlsShutdown(ActorSystem system) =>
        CoordinatedShutdown.Get(system).ShutdownReason is { } reason && reason.GetType().Name == "TlsHandshakeFailureReason"
            ? $"Akka stopped its actor system after a TLS handshake it made with a peer failed ({reason})"
            : null;

    private async Task LeaveAndStopAsync(Cluster cluster, ActorSystem system, bool leave)
    {
        try
        {
            if (leave && cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            {
                await cluster.LeaveAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
        }
        catch (TimeoutException)
        {
        }

        // An incarnation that does not stop in time must not stop the proxy with it (an unhandled
        // exception here ends the host): the next one starts anyway, retrying its port until free.
        try
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _log.LogWarning("Cluster membership's actor system did not stop within 10 s; going on without waiting for it");
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken stopping)
    {
        try
        {
            await Task.Delay(delay, stopping);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<IReadOnlyList<Address>> LookUpContactsAsync()
    {
        if (_settings.DnsName is not { } name)
        {
            return _seeds;
        }

        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(name);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            _log.LogWarning("Could not resolve Proxy:Cluster:DnsName '{Name}': {Reason}", name, ex.Message);
            return _seeds;
        }

        return _seeds
            .Concat(addresses.Select(ip => new Address(_protocol, SystemName, ip.ToString(), _settings.Port)))
            .Where(a => !a.Equals(_self))
            .Distinct()
            .ToArray();
    }

    /// <summary>
    /// DotNetty, Akka's remoting transport, samples one received buffer in 128 for leaks and records
    /// where it was made with <see cref="Environment.StackTrace"/>: source files and lines, read from
    /// the symbol files, a megabyte of metadata reader mapped and a stack walk per sample. A
    /// diagnostic for DotNetty's own developers; off unless an operator names a level in
    /// <c>io.netty.leakDetection.level</c>, the environment variable DotNetty reads.
    /// </summary>
    private static void DisableLeakSampling()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("io.netty.leakDetection.level")))
        {
            DotNetty.Common.ResourceLeakDetector.Level = DotNetty.Common.ResourceLeakDetector.DetectionLevel.Disabled;
        }
    }

    private ActorSystemSetup Setup()
    {
        var setup = BootstrapSetup.Create().WithConfig(Hocon()).And(new LoggerFactorySetup(_loggers));
        if (_settings.Tls is not { } tls)
        {
            return setup;
        }

        // Read again for every incarnation: a renewed certificate is in use from the next one on.
        var certificate = PemFiles.LoadCertificate(tls.CertificateFile, tls.KeyFile);
        var authorities = PemFiles.LoadBundle(tls.CaFile);
        return setup.And(new DotNettySslSetup(certificate.Leaf, suppressValidation: false, requireMutualAuthentication: true, PeerValidator(authorities)));
    }

    // Members are addressed by IP and hold certificates of the fleet's own CA: a peer is trusted
    // when its certificate chains to that CA, whatever the host names in it and the system's roots.
    private CertificateValidationCallback PeerValidator(X509Certificate2Collection authorities) =>
        (certificate, chain, peer, _, _) =>
        {
            if (certificate is null)
            {
                _log.LogWarning("Cluster peer {Peer} refused: it sent no certificate", peer);
                return false;
            }

            // A member serves its peers and is their client: a certificate that names its uses must name both.
            var verdict = CaFileChain.Check(certificate, authorities, chain, CaFileChain.ServerAuthentication, CaFileChain.ClientAuthentication);
            if (verdict.Trusted)
            {
                return true;
            }

            _log.LogWarning(
                "Cluster peer {Peer} refused: its certificate {Subject} does not chain to Proxy:Cluster:Tls:CaFile ({Status})",
                peer,
                certificate.Subject,
                verdict.AnchorNotRoot is { } anchor
                    ? $"the CA file holds {anchor}, not a root CA: put the root it chains to in the file too"
                    : string.Join("; ", verdict.Status.Select(s => s.StatusInformation.Trim())));
            return false;
        };

    private Config Hocon()
    {
        var stableAfter = (long)_settings.StableAfter.TotalMilliseconds;
        var host = _settings.Host.Replace("\"", "", StringComparison.Ordinal);
        return ConfigurationFactory.ParseString(string.Create(CultureInfo.InvariantCulture, $$"""
            akka {
              loglevel = INFO
              loggers = ["{{AkkaLogForwarder.LoggersEntry}}"]
              coordinated-shutdown.run-by-clr-shutdown-hook = off
              coordinated-shutdown.exit-clr = off
              # Membership churns by design (ADR 0014): an unreachable peer is a state shown in
              # /debug/cluster, not an error with a stack trace, and its dead letters are noise.
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              remote.log-remote-lifecycle-events = off
              actor.provider = cluster
              remote.dot-netty.tcp {
                hostname = "{{host}}"
                port = {{_settings.Port}}
                enable-ssl = {{(_settings.Tls is null ? "off" : "on")}}
              }
              cluster {
                seed-nodes = []
                run-coordinated-shutdown-when-down = off
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                split-brain-resolver {
                  active-strategy = keep-majority
                  stable-after = {{stableAfter}}ms
                  down-all-when-unstable = off
                }
                distributed-data {
                  gossip-interval = 200ms
                  notify-subscribers-interval = 100ms
                }
              }
              # The cluster's timers count in hundreds of milliseconds and seconds; Akka's 10 ms tick
              # woke the thread pool 100 times a second for nothing (idle: 6 % of a core).
              scheduler.tick-duration = 100ms
            }
            {{ClusterMessageSerializer.Hocon}}
            {{UnboundTypeSerializer.ClusterHocon}}
            """));
    }

    private sealed record Incarnation(ActorSystem System, int Number);

    private sealed record Loss(string Reason, IReadOnlyList<string>? JoinInstead);
}

/// <summary>What <c>/debug/cluster</c> shows of the membership.</summary>
public sealed record MembershipView(string Self, string Status, int Incarnation, string? Leader, IReadOnlyList<MemberView> Members, IReadOnlyList<string> Expected);

public sealed record MemberView(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable);

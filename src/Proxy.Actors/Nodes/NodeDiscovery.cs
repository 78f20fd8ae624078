using System.Net;
using Akka.Actor;
using Akka.Event;

namespace Proxy.Actors.Nodes;

/// <summary>
/// A configured node whose address names a host with <c>Resolve: true</c> (ADR 0015): every
/// <c>ResolveInterval</c> this actor resolves the host and keeps one node per A/AAAA record, named
/// <c>name@ip</c>, through the NodeSupervisor: a record that appears is a node added (cold), one
/// that vanishes a node removed (gracefully). A headless Kubernetes Service or a compose scale-out
/// then changes the node set by itself. A lookup that fails keeps the nodes it had.
/// </summary>
public sealed class NodeDiscovery : ReceiveActor, IWithTimers
{
    private const string TickKey = "resolve";

    private readonly NodeSettings _template;
    private readonly string _host;
    private readonly IActorRef _supervisor;
    private readonly Func<string, Task<IPAddress[]>> _resolve;
    private readonly TimeSpan _interval;
    private readonly Dictionary<IPAddress, string> _nodes = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public NodeDiscovery(NodeSettings template, TimeSpan interval, IActorRef supervisor, Func<string, Task<IPAddress[]>> resolve)
    {
        _template = template;
        _host = template.Address.Host ?? throw new ArgumentException("a node found by DNS needs an http:// address naming a host", nameof(template));
        _supervisor = supervisor;
        _resolve = resolve;

        Receive<Tick>(_ => _resolve(_host).PipeTo(Self, success: found => new Resolved(found)));
        Receive<Resolved>(r => Apply(r.Addresses));
        Receive<Status.Failure>(f => _log.Warning("Could not resolve {0} for node {1}: {2}; keeping its {3} nodes", _host, _template.Name, f.Cause.Message, _nodes.Count));
        Receive<NodeSupervisor.NodeAdded>(_ => { });
        Receive<NodeSupervisor.NodeRemoved>(_ => { });
        Receive<NodeSupervisor.NodeChangeRefused>(r =>
        {
            // Not added (a node of that name still finishing its tries after a flap): forget it,
            // so the next lookup adds it again.
            _log.Warning("Node {0} not added yet: {1}; retrying on the next lookup", r.Name, r.Message);
            foreach (var ip in _nodes.Where(n => n.Value == r.Name).Select(n => n.Key).ToArray())
            {
                _nodes.Remove(ip);
            }
        });
        _interval = interval;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(NodeSettings template, TimeSpan interval, IActorRef supervisor, Func<string, Task<IPAddress[]>>? resolve = null) =>
        Akka.Actor.Props.Create(() => new NodeDiscovery(template, interval, supervisor, resolve ?? (host => Dns.GetHostAddressesAsync(host))));

    protected override void PreStart() => Timers.StartPeriodicTimer(TickKey, Tick.Instance, TimeSpan.Zero, _interval);

    /// <summary>The node name a record gets: the configured name, '@', the address.</summary>
    public static string NodeName(string name, IPAddress ip) => $"{name}@{ip}";

    private void Apply(IPAddress[] found)
    {
        // Additions first: a lookup that swaps every record (a blue/green switch) never leaves the
        // node set empty in between.
        var records = found.Distinct().ToHashSet();
        var gone = _nodes.Keys.Where(ip => !records.Contains(ip)).ToArray();
        foreach (var ip in records.Where(ip => !_nodes.ContainsKey(ip)))
        {
            var name = NodeName(_template.Name, ip);
            _log.Info("Node {0}: {1} resolves to {2}; adding it", name, _host, ip);
            _supervisor.Tell(new NodeSupervisor.AddNode(_template with { Name = name, Address = _template.Address.WithHost(ip) }));
            _nodes[ip] = name;
        }

        foreach (var ip in gone)
        {
            _log.Info("Node {0}: {1} no longer resolves to {2}; removing it", _nodes[ip], _host, ip);
            _supervisor.Tell(new NodeSupervisor.RemoveNode(_nodes[ip]));
            _nodes.Remove(ip);
        }
    }

    private sealed record Tick
    {
        public static Tick Instance { get; } = new();
    }

    private sealed record Resolved(IPAddress[] Addresses);
}

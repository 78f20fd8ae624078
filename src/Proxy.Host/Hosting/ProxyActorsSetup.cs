using Akka.Actor;
using Akka.Hosting;
using Proxy.Actors.Clustering;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;
using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>The whole actor system of the proxy, wired in one place.</summary>
public static class ProxyActorsSetup
{
    // RequestSupervisor shards: every request costs its shard two messages (Dispatch, Finished), so
    // none is a bottleneck; 4 measured no different (ADR 0007, ADR 0009).
    private const int RequestShards = 32;

    /// <summary>
    /// /user/weight-restorer gives marked nodes their weight back; /user/nodes supervises one
    /// NodeActor per node; /user/requests, a pool of RequestSupervisors, hands each client request
    /// to a RequestActor of its own, idle or new.
    /// </summary>
    /// <param name="clusterBridge">Told the bridge when <see cref="ProxySettings.Cluster"/> is set; null without a cluster.</param>
    public static AkkaConfigurationBuilder WithProxyActors(this AkkaConfigurationBuilder akka, ProxySettings settings, NodeBalancer balancer, IProxyMetrics metrics, Clustering.ClusterBridgeHandle? clusterBridge = null) =>
        akka.AddHocon(Classification.ClassifierTypes.SlowRulesDispatcherConfig, HoconAddMode.Append).WithActors((system, registry) =>
        {
            // Akka starts its scheduler on first use, blocking the calling threads until its thread
            // runs; under load that starves the thread pool for seconds. Start it now, idle.
            system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => { });

            var restorer = system.ActorOf(WeightRestorer.Props(settings.RestoreInterval), "weight-restorer");
            IActorRef? cluster = null;
            if (settings.Cluster is { } clustering)
            {
                // Membership runs in an actor system of its own (ClusterMembership, ADR 0014); the
                // bridge is this system's side of it.
                var names = settings.Nodes.Select(n => n.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
                cluster = system.ActorOf(ClusterBridge.Props(Guid.NewGuid().ToString("N"), names, "/user/nodes", clustering.MarkLifetime), "cluster");
                registry.Register<ClusterBridge>(cluster);
                clusterBridge?.Started(cluster);
            }

            var services = new NodeServices(settings.Health, balancer, restorer, metrics, cluster);
            var nodes = system.ActorOf(NodeSupervisor.Props(settings.Nodes, settings.Forwarding, settings.Classifiers, services), "nodes");
            var requests = system.ActorOf(RequestSupervisor.PoolProps(nodes, settings.Requests, balancer, RequestShards), "requests");
            foreach (var discovered in settings.DiscoveredNodes)
            {
                system.ActorOf(NodeDiscovery.Props(discovered.Template, discovered.Interval, nodes), "discovery-" + discovered.Template.Name);
            }

            registry.Register<WeightRestorer>(restorer);
            registry.Register<NodeSupervisor>(nodes);
            registry.Register<RequestSupervisor>(requests);
        });
}

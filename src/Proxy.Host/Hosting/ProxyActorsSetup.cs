using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
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
    /// Akka.Cluster membership for <c>Proxy:Cluster</c>. Each member downs the members it cannot
    /// reach after <c>StableAfter</c> (auto-downing), so every side of a split keeps running: the
    /// state shared is advisory, and two halves serving apart beat a survivor downing itself
    /// (keep-majority downs the wrong side of a 1-vs-1 split; keep-oldest and static-quorum down a
    /// lone survivor too). A downed member keeps its actor system and serves alone.
    /// </summary>
    public static AkkaConfigurationBuilder WithProxyCluster(this AkkaConfigurationBuilder akka, ClusterSettings cluster) =>
        akka
            .WithRemoting(cluster.Host, cluster.Port)
            .WithClustering(new Akka.Cluster.Hosting.ClusterOptions
            {
                SeedNodes = cluster.Seeds.Count > 0 ? cluster.Seeds.ToArray() : [$"akka.tcp://proxy@{cluster.Host}:{cluster.Port}"],
            })
            .AddHocon(
                "akka.cluster.run-coordinated-shutdown-when-down = off\n"
                + "akka.cluster.downing-provider-class = \"Akka.Cluster.AutoDowning, Akka.Cluster\"\n"
                + $"akka.cluster.auto-down-unreachable-after = {(int)cluster.StableAfter.TotalMilliseconds}ms\n"
                + "akka.cluster.distributed-data.gossip-interval = 200ms\n"
                + "akka.cluster.distributed-data.notify-subscribers-interval = 100ms\n",
                HoconAddMode.Prepend);

    /// <summary>
    /// /user/weight-restorer gives marked nodes their weight back; /user/nodes supervises one
    /// NodeActor per node; /user/requests, a pool of RequestSupervisors, hands each client request
    /// to a RequestActor of its own, idle or new.
    /// </summary>
    public static AkkaConfigurationBuilder WithProxyActors(this AkkaConfigurationBuilder akka, ProxySettings settings, NodeBalancer balancer, IProxyMetrics metrics) =>
        akka.AddHocon(Classification.ClassifierTypes.SlowRulesDispatcherConfig, HoconAddMode.Append).WithActors((system, registry) =>
        {
            // Akka starts its scheduler on first use, blocking the calling threads until its thread
            // runs; under load that starves the thread pool for seconds. Start it now, idle.
            system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => { });

            var restorer = system.ActorOf(WeightRestorer.Props(settings.RestoreInterval), "weight-restorer");
            IActorRef? replicator = null;
            if (settings.Cluster is { } cluster)
            {
                var names = settings.Nodes.Select(n => n.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
                replicator = system.ActorOf(NodeHealthReplicator.Props(names, "/user/nodes", cluster.MarkLifetime), "node-health");
                registry.Register<NodeHealthReplicator>(replicator);
            }

            var services = new NodeServices(settings.Health, balancer, restorer, metrics, replicator);
            var nodes = system.ActorOf(NodeSupervisor.Props(settings.Nodes, settings.Forwarding, settings.Classifiers, services), "nodes");
            var requests = system.ActorOf(RequestSupervisor.PoolProps(nodes, settings.Requests, balancer, RequestShards), "requests");
            registry.Register<WeightRestorer>(restorer);
            registry.Register<NodeSupervisor>(nodes);
            registry.Register<RequestSupervisor>(requests);
        });
}

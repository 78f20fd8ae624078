using Akka.Hosting;
using Proxy.Actors.Nodes;
using Proxy.Actors.Requests;
using Proxy.Actors.Telemetry;
using Proxy.Actors.Weighting;
using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>The whole actor system of the proxy, wired in one place.</summary>
public static class ProxyActorsSetup
{
    /// <summary>
    /// /user/weight-restorer gives marked nodes their weight back; /user/nodes supervises one
    /// NodeActor per node; /user/requests starts a RequestActor per client request.
    /// </summary>
    public static AkkaConfigurationBuilder WithProxyActors(this AkkaConfigurationBuilder akka, ProxySettings settings, NodeBalancer balancer, IProxyMetrics metrics) =>
        akka.WithActors((system, registry) =>
        {
            // Akka starts its scheduler on first use, blocking the calling threads until its thread
            // runs; under load that starves the thread pool for seconds. Start it now, idle.
            system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => { });

            var restorer = system.ActorOf(WeightRestorer.Props(settings.RestoreInterval), "weight-restorer");
            var nodes = system.ActorOf(NodeSupervisor.Props(settings.Nodes, settings.Forwarding, settings.Classifiers, new NodeServices(settings.Health, balancer, restorer, metrics)), "nodes");
            var requests = system.ActorOf(RequestSupervisor.Props(nodes, settings.Requests, balancer), "requests");
            registry.Register<WeightRestorer>(restorer);
            registry.Register<NodeSupervisor>(nodes);
            registry.Register<RequestSupervisor>(requests);
        });
}

namespace Proxy.Actors.Tests.Clustering;

/// <summary>A test actor system that is a cluster of its own on a free loopback port.</summary>
internal static class LoopbackCluster
{
    public const string Hocon = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        akka.loglevel = WARNING
        """;
}

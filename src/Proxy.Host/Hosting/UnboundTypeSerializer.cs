using Akka.Actor;
using Akka.Serialization;

namespace Proxy.Host.Hosting;

/// <summary>
/// Stands in for Akka's JSON serializer, the fallback for every type no binding names, in both of
/// the proxy's actor systems. The proxy's own system is local and serializes nothing; the cluster's
/// puts Akka's messages and <see cref="Proxy.Actors.Clustering.ClusterMessageSerializer"/>'s on the
/// wire. Anything else is refused with its type named, instead of being written as JSON with type
/// names (and read back from whoever reaches the cluster port) by Newtonsoft.Json, which would
/// otherwise be loaded at start-up only for this.
/// </summary>
public sealed class UnboundTypeSerializer : Serializer
{
    public UnboundTypeSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    // Akka passes the "json" serializer its settings section (akka.actor.serialization-settings.json).
    public UnboundTypeSerializer(ExtendedActorSystem system, Akka.Configuration.Config settings)
        : this(system) => _ = settings;

    /// <summary>The HOCON that puts it in place of <c>json</c>.</summary>
    public const string Hocon = "akka.actor.serializers.json = \"Proxy.Host.Hosting.UnboundTypeSerializer, Proxy.Host\"";

    public override int Identifier => 7107;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new NotSupportedException($"{obj.GetType().FullName} has no serializer bound: the proxy puts only Akka's and its own cluster messages on the wire");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new NotSupportedException($"a message for {type?.FullName ?? "an unnamed type"} was refused: the proxy reads only Akka's and its own cluster messages");
}

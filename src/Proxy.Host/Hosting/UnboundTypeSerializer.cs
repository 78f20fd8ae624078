using Akka.Actor;
using Akka.Serialization;

namespace Proxy.Host.Hosting;

/// <summary>
/// Stands in for Akka's JSON serializer, the fallback for every type no binding names, in both of
/// the proxy's actor systems, and in the cluster's for the serializers that read a type name off
/// the wire (protobuf messages, byte arrays, remote deployment). The proxy's own system is local and
/// serializes nothing; the cluster's puts Akka's messages and
/// <see cref="Proxy.Actors.Clustering.ClusterMessageSerializer"/>'s on the wire. Anything else is
/// refused with its type named. A string-manifest serializer, so what a peer writes as the manifest
/// is never looked up as a type (which would load it, and keep it, for each new name).
/// </summary>
public sealed class UnboundTypeSerializer : SerializerWithStringManifest
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

    /// <summary>The cluster's: also in place of the serializers that take a type name from the wire and that the fleet never uses.</summary>
    public const string ClusterHocon = """
        akka.actor.serializers {
          json = "Proxy.Host.Hosting.UnboundTypeSerializer, Proxy.Host"
          bytes = "Proxy.Host.Hosting.UnboundTypeSerializer, Proxy.Host"
          proto = "Proxy.Host.Hosting.UnboundTypeSerializer, Proxy.Host"
          daemon-create = "Proxy.Host.Hosting.UnboundTypeSerializer, Proxy.Host"
        }
        """;

    public override int Identifier => 7107;

    public override string Manifest(object o) => "";

    public override byte[] ToBinary(object obj) =>
        throw new NotSupportedException($"{obj.GetType().FullName} has no serializer bound: the proxy puts only Akka's and its own cluster messages on the wire");

    public override object FromBinary(byte[] bytes, string manifest) =>
        throw new NotSupportedException($"a message of {bytes.Length} bytes was refused: the proxy reads only Akka's and its own cluster messages");
}

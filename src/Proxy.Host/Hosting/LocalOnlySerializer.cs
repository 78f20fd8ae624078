using Akka.Actor;
using Akka.Serialization;

namespace Proxy.Host.Hosting;

/// <summary>
/// Stands in for Akka's JSON serializer in the proxy's own actor system, which is local (the
/// cluster is a system of its own): nothing there is ever serialized, and Akka's default,
/// Newtonsoft.Json, was built at start-up only to be kept in memory.
/// </summary>
public sealed class LocalOnlySerializer : Serializer
{
    public LocalOnlySerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    // Akka passes the "json" serializer its settings section (akka.actor.serialization-settings.json).
    public LocalOnlySerializer(ExtendedActorSystem system, Akka.Configuration.Config settings)
        : this(system) => _ = settings;

    /// <summary>The HOCON that puts it in place of <c>json</c>.</summary>
    public const string Hocon = "akka.actor.serializers.json = \"Proxy.Host.Hosting.LocalOnlySerializer, Proxy.Host\"";

    public override int Identifier => 7107;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) =>
        throw new NotSupportedException($"the proxy's actor system is local and does not serialize ({obj.GetType().Name})");

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new NotSupportedException($"the proxy's actor system is local and does not deserialize ({type.Name})");
}

using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Proxy.Actors.Nodes;

namespace Proxy.Actors.Clustering;

/// <summary>
/// Puts the proxy's own cluster messages on the wire: the marks and topology entries the members
/// replicate, and the formation's introductions. A fixed binary layout per type (a format byte,
/// then the fields in order), so a member reads exactly these five types and nothing else, and no
/// JSON library with type names in its payloads listens on the cluster port.
/// </summary>
public sealed class ClusterMessageSerializer : SerializerWithStringManifest
{
    private const byte Format = 1;
    private const string WhoAreYouManifest = "W";
    private const string IntroductionManifest = "I";
    private const string RejoinManifest = "R";
    private const string NodeMarkManifest = "M";
    private const string TopologyEntryManifest = "T";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public ClusterMessageSerializer(ExtendedActorSystem system)
        : base(system)
    {
    }

    /// <summary>The HOCON that registers it and binds the five types to it.</summary>
    public const string Hocon = """
        akka.actor {
          serializers.proxy-cluster = "Proxy.Actors.Clustering.ClusterMessageSerializer, Proxy.Actors"
          serialization-bindings {
            "Proxy.Actors.Clustering.NodeMark, Proxy.Actors" = proxy-cluster
            "Proxy.Actors.Clustering.TopologyEntry, Proxy.Actors" = proxy-cluster
            "Proxy.Actors.Clustering.ClusterFormation+WhoAreYou, Proxy.Actors" = proxy-cluster
            "Proxy.Actors.Clustering.ClusterFormation+Introduction, Proxy.Actors" = proxy-cluster
            "Proxy.Actors.Clustering.ClusterFormation+Rejoin, Proxy.Actors" = proxy-cluster
          }
        }
        """;

    public override int Identifier => 7108;

    public override string Manifest(object o) => o switch
    {
        NodeMark => NodeMarkManifest,
        TopologyEntry => TopologyEntryManifest,
        ClusterFormation.WhoAreYou => WhoAreYouManifest,
        ClusterFormation.Introduction => IntroductionManifest,
        ClusterFormation.Rejoin => RejoinManifest,
        _ => throw Unknown(o),
    };

    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream(64);
        using (var writer = new BinaryWriter(stream, StrictUtf8, leaveOpen: true))
        {
            writer.Write(Format);
            switch (obj)
            {
                case NodeMark mark:
                    writer.Write((byte)mark.Kind);
                    writer.Write(mark.Weight);
                    writer.Write(mark.AtUnixMs);
                    writer.Write(mark.Member);
                    writer.Write(mark.Writer);
                    break;
                case TopologyEntry entry:
                    writer.Write(entry.Name);
                    WriteOptional(writer, entry.Address);
                    writer.Write(entry.Weight);
                    writer.Write(entry.ReuseConnections);
                    writer.Write(entry.Removed);
                    writer.Write(entry.AtUnixMs);
                    writer.Write(entry.Member);
                    writer.Write(entry.Writer);
                    writer.Write(entry.Tls is not null);
                    if (entry.Tls is { } tls)
                    {
                        WriteOptional(writer, tls.CaFile);
                        WriteOptional(writer, tls.ServerName);
                        WriteOptional(writer, tls.ClientCertificateFile);
                        WriteOptional(writer, tls.ClientKeyFile);
                        writer.Write(tls.Insecure);
                    }

                    break;
                case ClusterFormation.WhoAreYou:
                    break;
                case ClusterFormation.Introduction introduction:
                    writer.Write(introduction.Address);
                    WriteList(writer, introduction.Members);
                    writer.Write(introduction.Up);
                    break;
                case ClusterFormation.Rejoin rejoin:
                    WriteList(writer, rejoin.Members);
                    break;
                default:
                    throw Unknown(obj);
            }
        }

        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes, writable: false), StrictUtf8);
            var format = reader.ReadByte();
            if (format != Format)
            {
                throw new InvalidDataException($"format {format} is not one this member reads ({Format})");
            }

            object message = manifest switch
            {
                NodeMarkManifest => new NodeMark(ReadKind(reader), reader.ReadInt32(), reader.ReadInt64(), reader.ReadString(), reader.ReadString()),
                TopologyEntryManifest => new TopologyEntry(
                    reader.ReadString(), ReadOptional(reader), reader.ReadInt32(), ReadFlag(reader), ReadFlag(reader), reader.ReadInt64(),
                    reader.ReadString(), reader.ReadString(), ReadTls(reader)),
                WhoAreYouManifest => ClusterFormation.WhoAreYou.Instance,
                IntroductionManifest => new ClusterFormation.Introduction(reader.ReadString(), ReadList(reader), ReadFlag(reader)),
                RejoinManifest => new ClusterFormation.Rejoin(ReadList(reader)),
                _ => throw new InvalidDataException("the manifest names no message this member knows"),
            };
            if (reader.BaseStream.Position != bytes.Length)
            {
                throw new InvalidDataException($"{bytes.Length - reader.BaseStream.Position} bytes follow the message");
            }

            return message;
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or FormatException or DecoderFallbackException or IOException)
        {
            throw new SerializationException($"A cluster message (manifest '{manifest}', {bytes.Length} bytes) was refused: {ex.Message}", ex);
        }
    }

    private static void WriteOptional(BinaryWriter writer, string? value)
    {
        writer.Write(value is not null);
        if (value is not null)
        {
            writer.Write(value);
        }
    }

    private static string? ReadOptional(BinaryReader reader) => ReadFlag(reader) ? reader.ReadString() : null;

    // Written as 0 or 1; any other byte is not something this serializer wrote.
    private static bool ReadFlag(BinaryReader reader) => reader.ReadByte() switch
    {
        0 => false,
        1 => true,
        var other => throw new InvalidDataException($"a flag byte is {other}, not 0 or 1"),
    };

    private static void WriteList(BinaryWriter writer, string[] values)
    {
        writer.Write7BitEncodedInt(values.Length);
        foreach (var value in values)
        {
            writer.Write(value);
        }
    }

    private static string[] ReadList(BinaryReader reader)
    {
        var count = reader.Read7BitEncodedInt();
        // Each string takes at least its length byte: a count beyond the bytes left is a lie, not an allocation to make.
        if (count < 0 || count > reader.BaseStream.Length - reader.BaseStream.Position)
        {
            throw new InvalidDataException($"a list claims {count} entries");
        }

        var values = new string[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = reader.ReadString();
        }

        return values;
    }

    private static NodeMarkKind ReadKind(BinaryReader reader)
    {
        var kind = (NodeMarkKind)reader.ReadByte();
        return Enum.IsDefined(kind) ? kind : throw new InvalidDataException($"mark kind {(int)kind} is not one this member knows");
    }

    private static NodeTlsSettings? ReadTls(BinaryReader reader) =>
        ReadFlag(reader)
            ? new NodeTlsSettings(ReadOptional(reader), ReadOptional(reader), ReadOptional(reader), ReadOptional(reader), ReadFlag(reader))
            : null;

    private static ArgumentException Unknown(object o) =>
        new($"{o.GetType().FullName} is not a cluster message this serializer writes", nameof(o));
}

using System.Runtime.Serialization;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using Proxy.Actors.Clustering;
using Proxy.Actors.Nodes;
using Xunit;

namespace Proxy.Actors.Tests.Clustering;

public sealed class ClusterMessageSerializerTests() : TestKit(ClusterMessageSerializer.Hocon)
{
    // What remoting does with a message: the serializer bound to its type, its id and manifest, and back.
    private object Travel(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ClusterMessageSerializer>(serializer);
        var bytes = serializer.ToBinary(message);
        return Sys.Serialization.Deserialize(bytes, serializer.Identifier, Serialization.ManifestFor(serializer, message));
    }

    private static ClusterMessageSerializer Serializer(TestKit kit) =>
        (ClusterMessageSerializer)kit.Sys.Serialization.FindSerializerForType(typeof(NodeMark));

    [Fact]
    public void Marks_and_topology_entries_arrive_as_they_were_written()
    {
        foreach (var kind in Enum.GetValues<NodeMarkKind>())
        {
            var mark = new NodeMark(kind, 37, 1_764_000_000_123, "akka.tcp://proxy@10.0.0.9:4053", "run-ä-7");
            Assert.Equal(mark, Travel(mark));
        }

        var added = new TopologyEntry("n3", "https://node-3.internal:8443/rpc", 64, false, false, 1_764_000_000_456, "akka.tcp://proxy@10.0.0.1:4053", "run-1",
            new NodeTlsSettings("/etc/proxy/ca.pem", "node-3", "/etc/proxy/client.pem", null, Insecure: true));
        Assert.Equal(added, Travel(added));
        var removed = TopologyEntry.RemovedNow("n3") with { Member = "akka.tcp://proxy@10.0.0.1:4053", Writer = "run-1" };
        Assert.Equal(removed, Travel(removed));
        Assert.Null(((TopologyEntry)Travel(removed)).Address);
        Assert.Null(((TopologyEntry)Travel(removed)).Tls);
    }

    [Fact]
    public void The_formations_introductions_arrive_as_they_were_written()
    {
        Assert.Same(ClusterFormation.WhoAreYou.Instance, Travel(ClusterFormation.WhoAreYou.Instance));

        var introduction = (ClusterFormation.Introduction)Travel(new ClusterFormation.Introduction("akka.tcp://proxy@10.0.0.1:4053", ["akka.tcp://proxy@10.0.0.1:4053", "akka.tcp://proxy@10.0.0.2:4053"], true));
        Assert.Equal("akka.tcp://proxy@10.0.0.1:4053", introduction.Address);
        Assert.Equal(["akka.tcp://proxy@10.0.0.1:4053", "akka.tcp://proxy@10.0.0.2:4053"], introduction.Members);
        Assert.True(introduction.Up);

        var lonely = (ClusterFormation.Introduction)Travel(new ClusterFormation.Introduction("akka.tcp://proxy@10.0.0.3:4053", [], false));
        Assert.Empty(lonely.Members);
        Assert.False(lonely.Up);

        Assert.Equal(["akka.tcp://proxy@10.0.0.2:4053"], ((ClusterFormation.Rejoin)Travel(new ClusterFormation.Rejoin(["akka.tcp://proxy@10.0.0.2:4053"]))).Members);
    }

    [Fact]
    public void Bytes_that_are_not_a_message_this_member_writes_are_refused_with_what_was_wrong()
    {
        var serializer = Serializer(this);
        var mark = serializer.ToBinary(new NodeMark(NodeMarkKind.Overloaded, 1, 5, "m", "w"));

        var truncated = Assert.Throws<SerializationException>(() => serializer.FromBinary(mark[..^2], "M"));
        Assert.Contains("manifest 'M'", truncated.Message, StringComparison.Ordinal);

        var trailing = Assert.Throws<SerializationException>(() => serializer.FromBinary([.. mark, 0], "M"));
        Assert.Contains("1 bytes follow the message", trailing.Message, StringComparison.Ordinal);

        var kind = (byte[])mark.Clone();
        kind[1] = 200;
        Assert.Contains("mark kind 200", Assert.Throws<SerializationException>(() => serializer.FromBinary(kind, "M")).Message, StringComparison.Ordinal);

        var format = (byte[])mark.Clone();
        format[0] = 9;
        Assert.Contains("format 9", Assert.Throws<SerializationException>(() => serializer.FromBinary(format, "M")).Message, StringComparison.Ordinal);

        Assert.Contains("names no message", Assert.Throws<SerializationException>(() => serializer.FromBinary(mark, "Proxy.Evil, Proxy")).Message, StringComparison.Ordinal);
        Assert.Throws<SerializationException>(() => serializer.FromBinary([], "W"));

        // A list that claims two billion entries in a 7-byte message: refused before anything is allocated for it.
        byte[] lie = [1, 0xFF, 0xFF, 0xFF, 0xFF, 0x07];
        Assert.Contains("claims 2147483647 entries", Assert.Throws<SerializationException>(() => serializer.FromBinary(lie, "R")).Message, StringComparison.Ordinal);

        // A flag is 0 or 1: Up = 2 is not something a member wrote.
        byte[] flag = [1, 1, (byte)'a', 0, 2];
        Assert.Contains("a flag byte is 2", Assert.Throws<SerializationException>(() => serializer.FromBinary(flag, "I")).Message, StringComparison.Ordinal);

        // Not UTF-8: refused, not read as replacement characters.
        byte[] notUtf8 = [1, 2, 0xC3, 0x28, 0, 1];
        Assert.Throws<SerializationException>(() => serializer.FromBinary(notUtf8, "I"));
    }

    [Fact]
    public void A_type_that_is_not_a_cluster_message_is_not_written()
    {
        var error = Assert.Throws<ArgumentException>(() => Serializer(this).ToBinary(new NodeHealthReplicator.Share("n1", NodeMark.Now(NodeMarkKind.Drained))));
        Assert.Contains("NodeHealthReplicator+Share is not a cluster message", error.Message, StringComparison.Ordinal);
    }
}

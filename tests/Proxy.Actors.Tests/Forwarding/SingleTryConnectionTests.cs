using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Proxy.Actors.Forwarding;
using Xunit;

namespace Proxy.Actors.Tests.Forwarding;

public sealed class SingleTryConnectionTests : IAsyncLifetime
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly FakeTimeProvider _time = new();
    private Socket _node = null!;
    private SingleTryConnection _connection = null!;

    public async Task InitializeAsync()
    {
        _listener.Start();
        var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
        var accepting = _listener.AcceptSocketAsync();
        await client.ConnectAsync((IPEndPoint)_listener.LocalEndpoint);
        _node = await accepting;
        _connection = new SingleTryConnection(new NetworkStream(client, ownsSocket: true), _time);
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        _node.Dispose();
        _listener.Stop();
    }

    [Fact]
    public async Task A_connection_no_try_writes_to_is_closed_so_a_node_serving_one_connection_at_a_time_moves_on()
    {
        _time.Advance(SingleTryConnection.UnusedFor);

        // The node's read ends: the connection it was waiting on is closed.
        Assert.Equal(0, await _node.ReceiveAsync(new byte[16], SocketFlags.None));
    }

    [Fact]
    public async Task A_connection_its_try_wrote_to_in_time_stays_open_for_the_whole_exchange()
    {
        await _connection.WriteAsync(Encoding.ASCII.GetBytes("POST /RPC2"));
        _time.Advance(SingleTryConnection.UnusedFor * 10);

        Assert.Equal("POST /RPC2", await ReceiveAsync(10));
        await _node.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.0 200"), SocketFlags.None);
        var answer = new byte[12];
        await _connection.ReadExactlyAsync(answer);
        Assert.Equal("HTTP/1.0 200", Encoding.ASCII.GetString(answer));
        await _connection.WriteAsync(Encoding.ASCII.GetBytes("more"));
        Assert.Equal("more", await ReceiveAsync(4));
    }

    private async Task<string> ReceiveAsync(int length)
    {
        var buffer = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = await _node.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None);
            Assert.NotEqual(0, n);
            read += n;
        }

        return Encoding.ASCII.GetString(buffer);
    }
}

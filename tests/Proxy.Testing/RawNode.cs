using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Proxy.Testing;

/// <summary>
/// A backend that speaks raw TCP, for answers no real server would give: garbage, a connection
/// dropped before or in the middle of the answer. Each connection reads the request head, then
/// runs the behaviour.
/// </summary>
public sealed class RawNode : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<NetworkStream, Task> _behaviour;
    private readonly bool _readsOwnHeads;
    private int _connections;

    private RawNode(Func<NetworkStream, Task> behaviour, bool readsOwnHeads = false)
    {
        _behaviour = behaviour;
        _readsOwnHeads = readsOwnHeads;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public string Address => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Answers every request with exactly these bytes, then closes.</summary>
    public static RawNode Answering(string bytes) => Answering(Encoding.ASCII.GetBytes(bytes));

    /// <summary>Answers every request with exactly these bytes, then closes.</summary>
    public static RawNode Answering(byte[] bytes) => new(async stream => await stream.WriteAsync(bytes));

    /// <summary>
    /// Keeps each connection open and answers request after request with <paramref name="answer"/>,
    /// given the request head (HttpClient sends the next request only after the answer).
    /// </summary>
    public static RawNode KeepAlive(Func<string, NetworkStream, Task> answer) => new(async stream =>
    {
        while (await ReadHeadAsync(stream) is { Length: > 0 } head)
        {
            await answer(head, stream);
        }
    }, readsOwnHeads: true);

    /// <summary>Reads the request, then closes without a byte of answer.</summary>
    public static RawNode DroppingBeforeAnswer() => new(_ => Task.CompletedTask);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    var stream = client.GetStream();
                    if (!_readsOwnHeads)
                    {
                        await ReadHeadAsync(stream);
                    }

                    await _behaviour(stream);
                }
            });
        }
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var seen = new StringBuilder();
        var buffer = new byte[4096];
        while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer);
            if (n == 0)
            {
                return "";
            }

            seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return seen.ToString();
    }
}

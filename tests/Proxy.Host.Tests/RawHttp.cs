using System.Net.Sockets;
using System.Text;

namespace Proxy.Host.Tests;

/// <summary>Writes exact request bytes to a listener and reads the answer's head (for what HttpClient would tidy up).</summary>
public static class RawHttp
{
    /// <summary>Writes exact request bytes (any encoding) and returns every byte of the answer, up to the close.</summary>
    public static async Task<byte[]> ExchangeAsync(Uri server, byte[] request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await client.GetStream().WriteAsync(request);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var received = new MemoryStream();
        await client.GetStream().CopyToAsync(received, timeout.Token);
        return received.ToArray();
    }

    public static async Task<string> SendAsync(Uri server, string request, bool readHeadOnly = true)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var received = new StringBuilder();
        var buffer = new byte[8192];
        while (true)
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0)
            {
                break;
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, n));
            var text = received.ToString();
            if (readHeadOnly && text.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                return text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)];
            }
        }

        return received.ToString();
    }
}

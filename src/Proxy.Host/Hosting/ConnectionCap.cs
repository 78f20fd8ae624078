using Microsoft.AspNetCore.Connections;

namespace Proxy.Host.Hosting;

/// <summary>
/// <c>Proxy:Limits:MaxConnections</c>: client connections open at once, over every client listener.
/// A connection past the cap is closed as soon as it is accepted, before a byte is read, so a flood
/// of idle connections cannot take the proxy's memory or file descriptors.
/// </summary>
internal sealed class ConnectionCap(int max)
{
    private int _open;

    public ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        if (Interlocked.Increment(ref _open) > max)
        {
            Interlocked.Decrement(ref _open);
            connection.Abort(new ConnectionAbortedException($"more than Proxy:Limits:MaxConnections ({max}) client connections"));
            return;
        }

        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };
}

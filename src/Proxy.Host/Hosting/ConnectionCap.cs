using Microsoft.AspNetCore.Connections;

namespace Proxy.Host.Hosting;

/// <summary>
/// <c>Proxy:Limits:MaxConnections</c>: client connections open at once, over every client listener.
/// A connection past the cap is closed as soon as it is accepted, before a byte is read, so a flood
/// of idle connections cannot take the proxy's memory or file descriptors.
/// </summary>
internal sealed partial class ConnectionCap(int max)
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);
    private int _open;
    private long _refused;
    private long _refusedLogged;
    private long _nextLog;

    /// <summary>Client connections closed on accept since start-up (<c>proxy_connections_refused_total</c>).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Where refusals are reported, at most once per 10 s (null until the host is built).</summary>
    public ILogger? Log { get; set; }

    public ConnectionDelegate Middleware(ConnectionDelegate next) => async connection =>
    {
        if (Interlocked.Increment(ref _open) > max)
        {
            Interlocked.Decrement(ref _open);
            Interlocked.Increment(ref _refused);
            ReportRefusals();
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

    // A flood is reported as a count per interval, not a line per connection.
    private void ReportRefusals()
    {
        var now = Environment.TickCount64;
        var next = Interlocked.Read(ref _nextLog);
        if (Log is not { } log || now < next || Interlocked.CompareExchange(ref _nextLog, now + (long)LogInterval.TotalMilliseconds, next) != next)
        {
            return;
        }

        var refused = Refused;
        LogRefused(log, refused - Interlocked.Exchange(ref _refusedLogged, refused), max);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Count} client connections: Proxy:Limits:MaxConnections ({Max}) were open (proxy_connections_refused_total counts them all)")]
    private static partial void LogRefused(ILogger logger, long count, int max);
}

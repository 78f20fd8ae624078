using System.Net;
using System.Net.Sockets;
using Proxy.Actors.Nodes;
using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>
/// Says, once, which configured node names no address: nginx and HAProxy refuse to start with an
/// upstream host that does not resolve. The proxy starts all the same (a container network may
/// still be forming; each try resolves again), but a typo must not stay silent until the first
/// "could not connect". Run at start-up for every configured node and by a reload for the nodes
/// it adds; nodes with <c>Resolve: true</c> are watched by their own discovery.
/// </summary>
public sealed partial class NodeHostCheck(ProxySettings settings, ILogger<NodeHostCheck> logger) : BackgroundService
{
    /// <summary>How long one name may take to resolve before the check gives up on it (the try itself has Forwarding:ConnectTimeout).</summary>
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await CheckAsync(settings.Nodes, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped before every name was looked up: nothing to say.
        }
    }

    /// <summary>Resolves the host names of <paramref name="nodes"/> (IP addresses and unix sockets skip) and logs a warning for each that names no address.</summary>
    public Task CheckAsync(IEnumerable<NodeSettings> nodes, CancellationToken cancellationToken) =>
        // A few at a time: a lookup that hangs holds a thread-pool thread past the give-up (getaddrinfo
        // blocks), and two hundred of them at once starved the listeners for half a minute.
        Parallel.ForEachAsync(
            nodes.Where(n => n.Address.Host is { } host && !IPAddress.TryParse(host.Trim('[', ']'), out _)),
            new ParallelOptions { MaxDegreeOfParallelism = ParallelLookups, CancellationToken = cancellationToken },
            (node, token) => new ValueTask(CheckOneAsync(node.Name, node.Address.Host!, token)));

    private const int ParallelLookups = 4;

    private async Task CheckOneAsync(string node, string host, CancellationToken cancellationToken)
    {
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).WaitAsync(ResolveTimeout, cancellationToken).ConfigureAwait(false);
            if (addresses.Length == 0)
            {
                LogUnresolved(logger, node, host, "no address");
            }
        }
        catch (SocketException ex)
        {
            LogUnresolved(logger, node, host, ex.Message);
        }
        catch (TimeoutException)
        {
            LogUnresolved(logger, node, host, $"no answer within {ResolveTimeout.TotalSeconds:0} s");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node {Node}: host '{Host}' does not resolve ({Reason}); its tries fail with 'could not connect' until it does")]
    private static partial void LogUnresolved(ILogger logger, string node, string host, string reason);
}

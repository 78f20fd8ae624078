using System.Net;
using System.Net.Sockets;
using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>
/// Before the host starts, each port the proxy will listen on is bound once and released: a port
/// already in use stops start-up with one line naming the key (SPEC), not the host's stack trace.
/// </summary>
internal static class PortCheck
{
    public static void EnsureFree(ProxySettings settings)
    {
        foreach (var address in settings.Listen)
        {
            EnsureFree("Proxy:Listen", address.Host, address.Port);
        }

        EnsureFree("Proxy:Debug:Listen", settings.DebugListen.Host, settings.DebugListen.Port);
        if (settings.Cluster is { } cluster)
        {
            EnsureFree("Proxy:Cluster:Port", cluster.Host, cluster.Port);
        }

        for (var i = 0; settings.Demo && i < settings.DemoNodes.Count; i++)
        {
            var demo = Microsoft.AspNetCore.Http.BindingAddress.Parse(settings.DemoNodes[i].Address);
            EnsureFree($"Demo:Ports:{i}", demo.Host, demo.Port);
        }
    }

    /// <summary>For <c>--demo-node</c>: its one listener, checked the same way.</summary>
    public static void EnsureFree(string key, string url)
    {
        var address = Microsoft.AspNetCore.Http.BindingAddress.Parse(url);
        EnsureFree(key, address.Host, address.Port);
    }

    private static void EnsureFree(string key, string host, int port)
    {
        if (port == 0)
        {
            return;
        }

        var ip = host is "*" or "+" ? IPAddress.Any
            : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(host.Trim('[', ']'), out var parsed) ? (parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed)
            : null;
        if (ip is null)
        {
            return; // A host name: the cluster's Host may name this machine; Akka reports its own bind failure.
        }

        var listener = new TcpListener(ip, port);
        try
        {
            listener.Start();
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AccessDenied or SocketError.AddressNotAvailable)
        {
            throw new ProxyConfigurationException(key, $"cannot listen on {ip}:{port}: {ex.Message}");
        }
        finally
        {
            listener.Stop();
        }
    }
}

using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Proxy.Testing;

/// <summary>Loopback ports for listeners a test names up front (a child proxy's, a Python node's).</summary>
public static class FreePort
{
    // A port the kernel hands out itself (bind to port 0, the local end of any outgoing connection)
    // comes from ip_local_port_range: one found free there can be taken by another test's
    // connection before the process under test binds it (CI once failed on "Address already in
    // use"). Below that range only an explicit bind takes a port, so test ports come from there;
    // each run starts at a random point so two test assemblies running at once rarely meet.
    private const int LowestTestPort = 10000;
    private static readonly (int Low, int High)? BelowKernelsRange = PortsBelowKernelsRange();
    private static readonly HashSet<int> HandedOut = [];
    private static int _next = BelowKernelsRange is { } range ? Random.Shared.Next(range.Low, range.High) : 0;

    /// <summary>A loopback port nothing listens on right now, and not handed out before by this process.</summary>
    public static int Next()
    {
        lock (HandedOut)
        {
            return BelowKernelsRange is { } range ? NextBelow(range.Low, range.High) : NextFromKernel();
        }
    }

    private static int NextBelow(int low, int high)
    {
        for (var tried = 0; tried < high - low; tried++)
        {
            var port = _next;
            _next = port + 1 < high ? port + 1 : low;
            if (!HandedOut.Contains(port) && NothingListensOn(port))
            {
                HandedOut.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port left in {low}-{high - 1}");
    }

    // Where the kernel's range cannot be read (not Linux) or leaves nothing below it.
    private static int NextFromKernel()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (HandedOut.Add(port))
            {
                return port;
            }
        }
    }

    private static bool NothingListensOn(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int Low, int High)? PortsBelowKernelsRange()
    {
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range")
                .Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            var kernelsLowest = int.Parse(fields[0], CultureInfo.InvariantCulture);
            return kernelsLowest - LowestTestPort >= 1000 ? (LowestTestPort, kernelsLowest) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}

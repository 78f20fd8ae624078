using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>
/// Clustered proxies as real processes on loopback, each with a cluster port of its own that
/// survives its restarts, so members can be frozen (SIGSTOP), killed and started again.
/// </summary>
public sealed class Fleet : IAsyncDisposable
{
    // Short failure detection keeps these tests to seconds: unreachable after ~2 s, downed 2 s later.
    private static readonly string[] FastFailureDetection = ["--Proxy:Cluster:StableAfter=2s"];

    private readonly IReadOnlyList<TestNode> _nodes;

    private Fleet(IReadOnlyList<TestNode> nodes, int size)
    {
        _nodes = nodes;
        Members = Enumerable.Range(0, size).Select(_ => new FleetMember(this, FreePort.Next())).ToArray();
    }

    public IReadOnlyList<FleetMember> Members { get; }

    /// <summary>A fleet whose members are not started yet; <paramref name="seeds"/> picks each member's seed list.</summary>
    public static Fleet Of(IReadOnlyList<TestNode> nodes, int size) => new(nodes, size);

    public static string Address(FleetMember member) => $"akka.tcp://proxy@127.0.0.1:{member.ClusterPort}";

    public string[] Arguments(FleetMember member, IEnumerable<FleetMember> seeds)
    {
        var args = new List<string>();
        for (var i = 0; i < _nodes.Count; i++)
        {
            args.Add($"--Proxy:Nodes:{i}:Name={_nodes[i].Name}");
            args.Add($"--Proxy:Nodes:{i}:Address={_nodes[i].Address}");
        }

        args.AddRange(["--Proxy:Cluster:Enabled=true", "--Proxy:Cluster:Host=127.0.0.1", $"--Proxy:Cluster:Port={member.ClusterPort.ToString(CultureInfo.InvariantCulture)}"]);
        args.AddRange(seeds.Select((s, i) => $"--Proxy:Cluster:Seeds:{i}={Address(s)}"));
        args.AddRange(FastFailureDetection);
        return [.. args];
    }

    /// <summary>Waits until every running member sees exactly the running members, all up and reachable.</summary>
    public async Task<TimeSpan> AwaitOneClusterAsync(TimeSpan within)
    {
        var started = DateTime.UtcNow;
        var running = Members.Where(m => m.Process is not null).ToArray();
        var expected = running.Select(Address).Order(StringComparer.Ordinal).ToArray();
        var views = new Dictionary<int, string>();
        await Eventually.AssertAsync(
            async () =>
            {
                var whole = true;
                foreach (var member in running)
                {
                    var view = await member.ClusterAsync();
                    views[member.ClusterPort] = view?.ToString() ?? "(no answer)";
                    var up = view?.GetProperty("members").EnumerateArray()
                        .Where(m => m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean())
                        .Select(m => m.GetProperty("address").GetString()!)
                        .Order(StringComparer.Ordinal)
                        .ToArray();
                    whole &= up is not null && up.SequenceEqual(expected) && view!.Value.GetProperty("members").GetArrayLength() == expected.Length;
                }

                if (!whole)
                {
                    throw new TimeoutException($"no single cluster of {string.Join(", ", expected)} within {within}:\n{string.Join("\n", views.Select(v => $"{v.Key}: {v.Value}"))}");
                }
            },
            within,
            TimeSpan.FromMilliseconds(200));
        return DateTime.UtcNow - started;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members)
        {
            await member.DisposeAsync();
        }
    }
}

public sealed class FleetMember : IAsyncDisposable
{
    private readonly Fleet _fleet;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(3) };

    public FleetMember(Fleet fleet, int clusterPort)
    {
        _fleet = fleet;
        ClusterPort = clusterPort;
    }

    public int ClusterPort { get; }

    public ProxyProcess? Process { get; private set; }

    public ProxyProcess Running => Process ?? throw new InvalidOperationException("the member is not running");

    /// <summary>Starts (or starts again, on the same cluster port) this member with these seeds.</summary>
    public void Start(IEnumerable<FleetMember> seeds) => Process = ProxyProcess.Start(_fleet.Arguments(this, seeds));

    public async Task StartServingAsync(IEnumerable<FleetMember> seeds)
    {
        Start(seeds);
        await Running.WaitUntilServingAsync();
    }

    public void Signal(string signal) => Running.Signal(signal);

    public async Task KillAsync()
    {
        Signal("KILL");
        await Running.WaitForExitAsync();
        await Running.DisposeAsync();
        Process = null;
    }

    /// <summary>SIGTERM: the member drains and leaves gracefully.</summary>
    public async Task TerminateAsync()
    {
        Running.Terminate();
        await Running.WaitForExitAsync();
        await Running.DisposeAsync();
        Process = null;
    }

    public async Task<JsonElement?> ClusterAsync()
    {
        try
        {
            return await _http.GetFromJsonAsync<JsonElement>(new Uri(Running.Debug, "/debug/cluster"));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    public async Task<JsonElement> NodeAsync(string name)
    {
        var nodes = await _http.GetFromJsonAsync<JsonElement>(new Uri(Running.Debug, "/debug/nodes"));
        // A node not (yet) there reads as state "absent".
        return nodes.GetProperty("nodes").EnumerateArray().FirstOrDefault(n => n.GetProperty("name").GetString() == name) is { ValueKind: JsonValueKind.Object } node
            ? node
            : JsonDocument.Parse($"{{\"name\":\"{name}\",\"state\":\"absent\"}}").RootElement;
    }

    /// <summary>Waits until this member shows the node in this state; answers how long that took.</summary>
    public async Task<TimeSpan> AwaitNodeStateAsync(string name, string state, TimeSpan within)
    {
        var started = DateTime.UtcNow;
        await Eventually.AssertAsync(
            async () =>
            {
                var node = await NodeAsync(name);
                if (node.GetProperty("state").GetString() != state)
                {
                    throw new TimeoutException($"{name} on member {ClusterPort} stayed {node} instead of {state}");
                }
            },
            within);
        return DateTime.UtcNow - started;
    }

    public async Task PostAsync(string path)
    {
        using var response = await _http.PostAsync(new Uri(Running.Debug, path), null);
        response.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        if (Process is not null)
        {
            // A frozen process must be woken to be killed cleanly.
            Signal("CONT");
            await Process.DisposeAsync();
            Process = null;
        }

        _http.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection
{
    public const string Name = "clusters";
}

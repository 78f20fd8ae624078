using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Proxy.Host;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>The real proxy host on loopback, in front of real test nodes.</summary>
public sealed class ProxyHarness : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ProxyHarness(WebApplication app, Uri client, Uri debug)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = client, Timeout = TimeSpan.FromSeconds(30) };
        Debug = new HttpClient { BaseAddress = debug, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Talks to the client listener.</summary>
    public HttpClient Client { get; }

    /// <summary>Talks to the debug listener.</summary>
    public HttpClient Debug { get; }

    public static async Task<ProxyHarness> StartAsync(IReadOnlyList<TestNode> nodes, params string[] settings) =>
        await StartAsync(nodes.Select(n => (n.Name, n.Address)).ToArray(), settings);

    public static Task<ProxyHarness> StartAsync(IReadOnlyList<(string Name, string Address)> nodes, params string[] settings) =>
        StartAsync(nodes, null, settings);

    public static Task<ProxyHarness> StartAsync(IReadOnlyList<TestNode> nodes, Action<WebApplicationBuilder> configure, params string[] settings) =>
        StartAsync(nodes.Select(n => (n.Name, n.Address)).ToArray(), configure, settings);

    public static async Task<ProxyHarness> StartAsync(IReadOnlyList<(string Name, string Address)> nodes, Action<WebApplicationBuilder>? configure, params string[] settings)
    {
        var client = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var debug = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var args = new List<string>
        {
            $"--Proxy:Listen={client.OriginalString}",
            $"--Proxy:Debug:Listen={debug.OriginalString}",
            "--Serilog:MinimumLevel:Default=Warning",
        };
        for (var i = 0; i < nodes.Count; i++)
        {
            args.Add($"--Proxy:Nodes:{i}:Name={nodes[i].Name}");
            args.Add($"--Proxy:Nodes:{i}:Address={nodes[i].Address}");
        }

        args.AddRange(settings);
        var builder = ProxyApp.CreateBuilder(args.ToArray());
        configure?.Invoke(builder);
        var app = ProxyApp.Build(builder);
        await app.StartAsync();
        return new ProxyHarness(app, client, debug);
    }

    public async Task<IReadOnlyDictionary<string, JsonElement>> NodesAsync()
    {
        var document = await Debug.GetFromJsonAsync<JsonElement>("/debug/nodes");
        return document.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!);
    }

    /// <summary>Polls /debug/nodes until the node satisfies <paramref name="assert"/> (or the last failure is rethrown).</summary>
    public async Task AwaitNodeAsync(string name, Action<JsonElement> assert, TimeSpan? within = null)
    {
        await Eventually.AssertAsync(async () => assert((await NodesAsync())[name]), within ?? TimeSpan.FromSeconds(10));
    }

    /// <summary>Waits until /metrics has this line (metrics are written after the answer is).</summary>
    public async Task AwaitMetricAsync(string line, TimeSpan? within = null)
    {
        await Eventually.AssertAsync(
            async () =>
            {
                var metrics = await Debug.GetStringAsync("/metrics");
                if (!metrics.Contains(line, StringComparison.Ordinal))
                {
                    throw new TimeoutException($"/metrics never had '{line}':\n{metrics}");
                }
            },
            within ?? TimeSpan.FromSeconds(20));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Debug.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Starts test nodes n1..nN for a test and disposes them after.</summary>
public abstract class NodesTest : IAsyncLifetime
{
    private readonly int _count;

    protected NodesTest(int count = 2) => _count = count;

    protected TestNode[] Nodes { get; private set; } = [];

    protected TestNode N1 => Nodes[0];

    protected TestNode N2 => Nodes[1];

    public virtual async Task InitializeAsync() =>
        Nodes = await Task.WhenAll(Enumerable.Range(1, _count).Select(i => TestNode.StartAsync($"n{i}")));

    public virtual async Task DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    protected static StringContent XmlRpcCall(string method = "ping") =>
        new($"<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName></methodCall>", System.Text.Encoding.UTF8, "text/xml");

    protected static void AssertNoFault(string body) =>
        Assert.DoesNotContain("faultCode", body, StringComparison.Ordinal);
}

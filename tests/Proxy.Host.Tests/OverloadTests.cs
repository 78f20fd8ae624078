using System.Net;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class OverloadTests : NodesTest
{
    [Fact]
    public async Task Healthy_nodes_share_the_traffic_evenly()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        for (var i = 0; i < 20; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(10, N1.Hits);
        Assert.Equal(10, N2.Hits);
    }

    [Fact]
    public async Task An_overload_fault_is_not_delivered_but_redispatched_and_the_node_is_marked()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        N1.Overload();

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertNoFault(body);
        Assert.Contains("n2", body, StringComparison.Ordinal);
        Assert.Equal(1, N1.Hits);
        Assert.Equal(1, N2.Hits);
        var n1 = (await proxy.NodesAsync())["n1"];
        Assert.Equal("overloaded", n1.GetProperty("state").GetString());
        Assert.Equal(1, n1.GetProperty("weight").GetInt32());
        Assert.Equal(128, n1.GetProperty("configuredWeight").GetInt32());
        Assert.Equal(1, n1.GetProperty("overloads").GetInt32());
    }

    [Fact]
    public async Task A_marked_node_gets_almost_none_of_the_following_traffic()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        N1.Overload();

        for (var i = 0; i < 100; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            AssertNoFault(await response.Content.ReadAsStringAsync());
        }

        // One try marked it; at weight 1 against 128 it sees at most one more in the next 100.
        Assert.InRange(N1.Hits, 1, 2);
        Assert.Equal(100, N2.Hits);
    }

    [Fact]
    public async Task A_marked_node_regains_its_weight_step_by_step_on_the_restore_ticks()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Overload:RestoreInterval=00:00:00.100");
        N1.Overload();
        using (await proxy.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
        }

        N1.Recover();
        var seen = new SortedSet<int>();
        await proxy.AwaitNodeAsync("n1", n =>
        {
            seen.Add(n.GetProperty("weight").GetInt32());
            Assert.Equal("healthy", n.GetProperty("state").GetString());
        });

        Assert.Equal(128, seen.Max);
        var n1 = (await proxy.NodesAsync())["n1"];
        Assert.Equal(128, n1.GetProperty("weight").GetInt32());
        Assert.Equal(1, n1.GetProperty("overloads").GetInt32());
    }

    [Fact]
    public async Task When_both_nodes_are_overloaded_the_client_gets_503_with_retry_after()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        N1.Overload();
        N2.Overload();

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        AssertNoFault(body);
        Assert.Equal(1, N1.Hits);
        Assert.Equal(1, N2.Hits);
    }

    [Fact]
    public async Task When_every_node_is_marked_traffic_still_flows()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        N1.Overload();
        N2.Overload();
        using (await proxy.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
        }

        N1.Recover();
        N2.Recover();
        for (var i = 0; i < 4; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(3, N1.Hits);
        Assert.Equal(3, N2.Hits);
    }
}

using System.Net;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class FailureTests : NodesTest
{
    [Fact]
    public async Task A_node_that_is_down_is_skipped_by_redispatch_even_for_post()
    {
        await using var proxy = await ProxyHarness.StartAsync([("down", $"http://127.0.0.1:{FreePort.Next()}"), (N2.Name, N2.Address)]);

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("n2", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, (await proxy.NodesAsync())["down"].GetProperty("failures").GetInt32());
    }

    [Fact]
    public async Task A_node_that_hangs_gives_504_and_a_post_is_not_sent_again()
    {
        N1.Hang();
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Timeouts:Response=00:00:00.300");

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, N2.Hits);
    }

    [Fact]
    public async Task A_get_to_a_hanging_node_is_redispatched_to_the_sibling()
    {
        N1.Hang();
        // Long enough for the sibling's answer on a loaded CI machine (it is the same deadline).
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Timeouts:Response=00:00:02");

        using var response = await proxy.Client.GetAsync("/item");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, N2.Hits);
    }

    [Fact]
    public async Task When_no_node_can_be_reached_the_client_gets_502()
    {
        await using var proxy = await ProxyHarness.StartAsync([("a", $"http://127.0.0.1:{FreePort.Next()}"), ("b", $"http://127.0.0.1:{FreePort.Next()}")]);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_client_that_disconnects_cancels_the_upstream_call_without_penalising_the_node()
    {
        var upstreamCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        N1.Handle(async ctx =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                upstreamCancelled.TrySetResult();
            }
        });
        await using var proxy = await ProxyHarness.StartAsync([N1]);
        using var cts = new CancellationTokenSource();

        var call = proxy.Client.GetAsync("/slow", cts.Token);
        await proxy.AwaitNodeAsync("n1", n => Assert.Equal(1, n.GetProperty("inFlight").GetInt32()));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await upstreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await proxy.AwaitNodeAsync("n1", n =>
        {
            Assert.Equal(0, n.GetProperty("inFlight").GetInt32());
            Assert.Equal(0, n.GetProperty("failures").GetInt32());
            Assert.Equal("healthy", n.GetProperty("state").GetString());
        });
    }
}

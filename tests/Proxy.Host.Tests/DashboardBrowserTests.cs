using Xunit;

namespace Proxy.Host.Tests;

public sealed class DashboardBrowserTests : NodesTest
{
    [Fact]
    public async Task The_dashboard_shows_both_nodes_and_follows_a_state_change_live()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        for (var i = 0; i < 4; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        }

        await using var browser = await HeadlessChromium.OpenAsync(new Uri(proxy.Debug.BaseAddress!, "/debug"));

        await browser.WaitUntilAsync("document.querySelectorAll('.node').length === 2");
        await browser.WaitUntilAsync("document.querySelector('[data-node=n1]').dataset.state === 'healthy'");
        await browser.WaitUntilAsync("document.querySelector('[data-node=n2]').textContent.includes('requests')");

        N1.Overload();
        using (await proxy.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
        }

        // The open page picks the mark up by itself on its next refresh.
        await browser.WaitUntilAsync("document.querySelector('[data-node=n1]').dataset.state === 'overloaded'");
        await browser.WaitUntilAsync("document.querySelector('[data-node=n1] .state').textContent === 'overloaded'");
        await browser.WaitUntilAsync("document.getElementById('summary').textContent.includes('1 not healthy')");
        Assert.True((await browser.EvaluateAsync("document.querySelector('#members tr') !== null")).GetBoolean());
        // The redispatched request, with the trace id it can be looked up by.
        await browser.WaitUntilAsync("/^[0-9a-f]{32}$/.test(document.querySelector('#redispatches tr').dataset.trace)");
        await browser.WaitUntilAsync("document.querySelector('#redispatches tr').textContent.includes('n1:overloaded:xmlrpc-overload → n2:answered')");

        var screenshot = await browser.ScreenshotAsync();
        Assert.True(screenshot.Length > 1000);
        if (Environment.GetEnvironmentVariable("PROXY_DASHBOARD_SCREENSHOT") is { Length: > 0 } path)
        {
            await File.WriteAllBytesAsync(path, screenshot);
        }
    }

    [Fact]
    public async Task The_dashboard_says_when_this_member_is_alone_in_its_cluster()
    {
        // The one expected peer never answers: this member forms a cluster of one and says so.
        var port = Proxy.Testing.FreePort.Next();
        await using var proxy = await ProxyHarness.StartAsync(
            Nodes,
            "--Proxy:Cluster:Enabled=true",
            $"--Proxy:Cluster:Port={port}",
            $"--Proxy:Cluster:Seeds:0=akka.tcp://proxy@127.0.0.1:{Proxy.Testing.FreePort.Next()}");

        await using var browser = await HeadlessChromium.OpenAsync(new Uri(proxy.Debug.BaseAddress!, "/debug"));

        await browser.WaitUntilAsync("document.getElementById('fleet').textContent.includes('alone')");
        Assert.True((await browser.EvaluateAsync($"document.querySelector('#members').textContent.includes('127.0.0.1:{port} (this proxy)')")).GetBoolean());
    }

    [Fact]
    public async Task The_dashboard_shows_a_node_appearing_and_leaving()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1]);
        await using var browser = await HeadlessChromium.OpenAsync(new Uri(proxy.Debug.BaseAddress!, "/debug"));
        await browser.WaitUntilAsync("document.querySelectorAll('.node').length === 1");

        using (await proxy.Debug.PostAsync("/debug/nodes", System.Net.Http.Json.JsonContent.Create(new { name = "n2", address = N2.Address, weight = 64 })))
        {
        }

        await browser.WaitUntilAsync("document.querySelector('[data-node=n2]') !== null");
        using (await proxy.Debug.DeleteAsync("/debug/nodes/n2"))
        {
        }

        await browser.WaitUntilAsync("document.querySelector('[data-node=n2]') === null && document.querySelectorAll('.node').length === 1");
    }
}

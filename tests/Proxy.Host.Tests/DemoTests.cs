using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class DemoTests
{
    [Fact]
    public async Task The_demo_shows_classification_redispatch_and_restoration()
    {
        var client = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var debug = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var demoNode1 = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var demo2Port = FreePort.Next();
        var app = ProxyApp.Build([
            "--demo", $"--Demo:Ports:0={demoNode1.Port}", $"--Demo:Ports:1={demo2Port}", $"--Proxy:Listen={client}", $"--Proxy:Debug:Listen={debug}",
            "--Proxy:Overload:RestoreInterval=00:00:00.100", "--Serilog:MinimumLevel:Default=Warning"]);
        await app.StartAsync();
        try
        {
            using var http = new HttpClient();
            using var call = new StringContent("<methodCall/>");

            Assert.Contains("demo-1", await (await http.PostAsync(new Uri(client, "/RPC2"), call)).Content.ReadAsStringAsync(), StringComparison.Ordinal);
            await http.PostAsync(new Uri(demoNode1, "/overload?on=true"), null);

            // Round-robin sends one of the next two calls to demo-1: it is redispatched to demo-2.
            for (var i = 0; i < 2; i++)
            {
                using var answer = await http.PostAsync(new Uri(client, "/RPC2"), call);
                var body = await answer.Content.ReadAsStringAsync();
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                Assert.DoesNotContain("faultCode", body, StringComparison.Ordinal);
                Assert.Contains("demo-2", body, StringComparison.Ordinal);
            }

            Assert.Contains("\"overloads\":1", await http.GetStringAsync(new Uri(debug, "/debug/nodes")), StringComparison.Ordinal);

            await http.PostAsync(new Uri(demoNode1, "/overload?on=false"), null);
            await Eventually.AssertAsync(async () =>
            {
                using var nodes = JsonDocument.Parse(await http.GetStringAsync(new Uri(debug, "/debug/nodes")));
                var demo1 = nodes.RootElement.GetProperty("nodes")[0];
                Assert.True(
                    demo1.GetProperty("state").GetString() == "healthy" && demo1.GetProperty("weight").GetInt32() == 128,
                    $"demo-1 was not restored: {demo1}");
            });
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}

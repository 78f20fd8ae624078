using System.Net;
using Akka.Actor;
using Microsoft.AspNetCore.Http;
using Proxy.Actors.Classification;
using Proxy.Host.Classification;
using Proxy.Host.Configuration;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class ClassificationTests : NodesTest
{
    private static string[] Rule(int index, string name, string type, string verdict, params string[] settings) =>
        [$"--Proxy:Classifiers:{index}:Name={name}", $"--Proxy:Classifiers:{index}:Type={type}", $"--Proxy:Classifiers:{index}:Verdict={verdict}",
            .. settings.Select(s => $"--Proxy:Classifiers:{index}:{s}")];

    [Fact]
    public async Task A_status_rule_with_the_overloaded_verdict_redispatches_a_post()
    {
        N1.Handle(ctx => Results.StatusCode(503).ExecuteAsync(ctx));
        await using var proxy = await ProxyHarness.StartAsync(Nodes, Rule(0, "shed", "Status", "Overloaded", "Codes:0=503", "Codes:1=429"));

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("overloaded", (await proxy.NodesAsync())["n1"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_header_rule_marks_the_node_that_sends_the_header()
    {
        N1.Handle(ctx =>
        {
            ctx.Response.Headers["X-Load-Shed"] = "yes";
            return ctx.Response.WriteAsync("partial work");
        });
        await using var proxy = await ProxyHarness.StartAsync(Nodes, Rule(0, "shed", "Header", "Overloaded", "Header=X-Load-Shed", "Pattern=^yes$"));

        using var response = await proxy.Client.GetAsync("/");

        Assert.DoesNotContain("partial work", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, (await proxy.NodesAsync())["n1"].GetProperty("overloads").GetInt32());
    }

    [Fact]
    public async Task A_configured_body_regex_replaces_the_default_rule()
    {
        N1.Handle(ctx => ctx.Response.WriteAsync("<error>\nTOO BUSY\n</error>"));
        N2.Overload();
        await using var proxy = await ProxyHarness.StartAsync(Nodes, Rule(0, "busy", "BodyRegex", "Overloaded", "Pattern=error>.*BUSY"));

        using var first = await proxy.Client.PostAsync("/", XmlRpcCall());
        var body = await first.Content.ReadAsStringAsync();

        // n1's answer is classified by the new rule; n2's XML-RPC fault is no longer a rule at all.
        Assert.Contains("faultCode", body, StringComparison.Ordinal);
        Assert.Equal("overloaded", (await proxy.NodesAsync())["n1"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task The_first_matching_rule_decides_the_verdict()
    {
        N1.Handle(ctx =>
        {
            ctx.Response.StatusCode = 502;
            return ctx.Response.WriteAsync("busy");
        });
        N2.Handle(ctx =>
        {
            ctx.Response.StatusCode = 502;
            return ctx.Response.WriteAsync("busy");
        });
        await using var proxy = await ProxyHarness.StartAsync(Nodes, [
            .. Rule(0, "bad-gateway", "Status", "Failed", "Codes:0=502"),
            .. Rule(1, "busy", "BodyRegex", "Overloaded", "Pattern=busy")]);

        using var response = await proxy.Client.PostAsync("/", XmlRpcCall());

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        var n1 = (await proxy.NodesAsync())["n1"];
        Assert.Equal(1, n1.GetProperty("failures").GetInt32());
        Assert.Equal(0, n1.GetProperty("overloads").GetInt32());
    }

    [Fact]
    public async Task A_failed_verdict_is_redispatched_for_a_get_but_answers_502_for_a_post()
    {
        N1.Handle(ctx => Results.StatusCode(500).ExecuteAsync(ctx));
        await using var proxy = await ProxyHarness.StartAsync(Nodes, Rule(0, "error", "Status", "Failed", "Codes:0=500"));

        using var get = await proxy.Client.GetAsync("/item");
        using var post = await proxy.Client.PostAsync("/item", XmlRpcCall());
        using var secondPost = await proxy.Client.PostAsync("/item", XmlRpcCall());

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(2, N1.Received.Count(r => r.Method == "GET") + N2.Received.Count(r => r.Method == "GET"));
        // Round-robin sends one of the two POSTs to n1: that one is not sent again.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.BadGateway], new[] { post.StatusCode, secondPost.StatusCode }.Order());
        Assert.Equal(1, N1.Received.Count(r => r.Method == "POST"));
        Assert.Equal(1, N2.Received.Count(r => r.Method == "POST"));
    }

    [Fact]
    public async Task The_json_rpc_sample_is_available_by_type_name()
    {
        N1.Handle(ctx => ctx.Response.WriteAsync("""{"jsonrpc":"2.0","error":{"code":-32000,"message":"server overloaded"},"id":1}"""));
        N2.Handle(ctx => ctx.Response.WriteAsync("""{"jsonrpc":"2.0","result":"ok","id":1}"""));
        await using var proxy = await ProxyHarness.StartAsync(Nodes, Rule(0, "jsonrpc-overload", "JsonRpcError", "Overloaded", "Code=-32000"));

        using var response = await proxy.Client.PostAsync("/rpc", new StringContent("""{"jsonrpc":"2.0","method":"m","id":1}"""));

        Assert.Contains("\"result\":\"ok\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_classifier_type_registered_from_code_is_configured_by_its_name()
    {
        N1.Handle(ctx =>
        {
            ctx.Response.StatusCode = 418;
            return Task.CompletedTask;
        });
        await using var proxy = await ProxyHarness.StartAsync(
            Nodes,
            builder => builder.AddClassifier("Teapot", rule => TeapotClassifier.Props(rule.Name, rule.Verdict, (int)rule.RequireInt64("Status"))),
            Rule(0, "teapots", "Teapot", "Overloaded", "Status=418"));

        using var response = await proxy.Client.GetAsync("/brew");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("overloaded", (await proxy.NodesAsync())["n1"].GetProperty("state").GetString());
    }

    [Fact]
    public void A_registered_type_validates_its_own_settings_naming_the_key()
    {
        var builder = ProxyApp.CreateBuilder([
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", .. Rule(0, "teapots", "Teapot", "Overloaded")]);
        builder.AddClassifier("Teapot", rule => TeapotClassifier.Props(rule.Name, rule.Verdict, (int)rule.RequireInt64("Status")));

        var ex = Assert.Throws<ProxyConfigurationException>(() => ProxyApp.Build(builder));

        Assert.Equal("Proxy:Classifiers:0:Status", ex.Key);
    }

    [Fact]
    public void The_json_rpc_sample_requires_its_code()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => ProxyApp.Build([
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", .. Rule(0, "j", "JsonRpcError", "Overloaded", "Code=lots")]));

        Assert.Equal("Proxy:Classifiers:0:Code", ex.Key);
    }

    private sealed class TeapotClassifier(string name, Verdict verdict, int status) : ClassifierActor(name, verdict)
    {
        public static Props Props(string name, Verdict verdict, int status) =>
            Akka.Actor.Props.Create(() => new TeapotClassifier(name, verdict, status));

        protected override bool Matches(IAnswerView answer) => answer.Status == status;
    }
}

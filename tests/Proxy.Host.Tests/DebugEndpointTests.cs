using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Proxy.Host.Configuration;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class DebugEndpointTests : NodesTest
{
    [Fact]
    public async Task Nodes_lists_the_spec_fields_and_who_observed_the_state()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        var n1 = (await proxy.NodesAsync())["n1"];

        Assert.Equal(
            ["address", "configuredWeight", "failures", "inFlight", "lastFailure", "name", "observedBy", "overloads", "requests", "state", "weight"],
            n1.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(N1.Address, n1.GetProperty("address").GetString());
        Assert.Equal("healthy", n1.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, n1.GetProperty("lastFailure").ValueKind);
    }

    [Fact]
    public async Task Nodes_gives_a_nodes_last_failure_with_its_kind_and_reason()
    {
        var closed = $"http://127.0.0.1:{Proxy.Testing.FreePort.Next()}";
        await using var proxy = await ProxyHarness.StartAsync([("gone", closed)]);

        using var answer = await proxy.Client.GetAsync("/");

        Assert.Equal(System.Net.HttpStatusCode.BadGateway, answer.StatusCode);
        await proxy.AwaitNodeAsync("gone", n =>
        {
            var failure = n.GetProperty("lastFailure");
            Assert.Equal("refused", failure.GetProperty("kind").GetString());
            Assert.StartsWith("could not connect", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.True(failure.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        });
    }

    [Fact]
    public async Task A_nodes_bytes_quoted_in_a_failure_reason_are_escaped()
    {
        // A status line carrying a terminal escape sequence and a bell: quoted by .NET's exception.
        await using var evil = Proxy.Testing.RawNode.Answering("HTTP/1.1 2\u001b[31mRED\u0007 OK\r\nContent-Length: 0\r\n\r\n");
        await using var proxy = await ProxyHarness.StartAsync([("evil", evil.Address)]);

        using var answer = await proxy.Client.GetAsync("/");

        Assert.Equal(System.Net.HttpStatusCode.BadGateway, answer.StatusCode);
        await proxy.AwaitNodeAsync("evil", n =>
        {
            var reason = n.GetProperty("lastFailure").GetProperty("reason").GetString()!;
            Assert.Contains("\\x1B", reason, StringComparison.Ordinal);
            Assert.DoesNotContain('\u001b', reason);
            Assert.DoesNotContain('\u0007', reason);
        });
    }

    [Fact]
    public async Task Actors_shows_the_live_tree_with_each_actors_state()
    {
        N1.Hang();
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        using var cts = new CancellationTokenSource();
        var hanging = proxy.Client.GetAsync("/slow", cts.Token);
        await proxy.AwaitNodeAsync("n1", n => Assert.Equal(1, n.GetProperty("inFlight").GetInt32()));

        var tree = await proxy.Debug.GetFromJsonAsync<JsonElement>("/debug/actors");
        var all = Flatten(tree.GetProperty("actors")).ToDictionary(a => a.GetProperty("path").GetString()!);

        Assert.Equal("NodeActor", all["/user/nodes/n1"].GetProperty("type").GetString());
        Assert.Contains("inFlight=1", all["/user/nodes/n1"].GetProperty("state").GetString(), StringComparison.Ordinal);
        Assert.Equal("XmlRpcFaultClassifier", all["/user/nodes/n2/classifier-xmlrpc-overload"].GetProperty("type").GetString());
        Assert.Equal("WeightRestorer", all["/user/weight-restorer"].GetProperty("type").GetString());
        var request = Assert.Single(all.Values, a => a.GetProperty("type").GetString() == "RequestActor");
        Assert.Contains("GET /slow attempt=1", request.GetProperty("state").GetString(), StringComparison.Ordinal);

        // /user/requests is the pool of RequestSupervisor shards; the request lives under one of them.
        Assert.Equal("RoundRobinPool", all["/user/requests"].GetProperty("type").GetString());
        Assert.Contains("inFlight=1", all["/user/requests"].GetProperty("state").GetString(), StringComparison.Ordinal);
        var shard = request.GetProperty("path").GetString()![..request.GetProperty("path").GetString()!.LastIndexOf('/')];
        Assert.Equal("RequestSupervisor", all[shard].GetProperty("type").GetString());
        Assert.StartsWith("/user/requests/", shard, StringComparison.Ordinal);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);
    }

    [Fact]
    public async Task Every_request_actor_is_idle_again_once_its_request_is_answered()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        await Task.WhenAll(Enumerable.Range(0, 50).Select(async _ =>
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        }));

        var requestActors = 0;
        var pool = "";
        await Eventually.AssertAsync(async () =>
        {
            var tree = await proxy.Debug.GetFromJsonAsync<JsonElement>("/debug/actors");
            var actors = Flatten(tree.GetProperty("actors")).ToList();
            var requests = actors.Where(a => a.GetProperty("type").GetString() == "RequestActor").ToList();
            var busy = requests.Count(a => !a.GetProperty("state").GetString()!.StartsWith("idle", StringComparison.Ordinal));
            requestActors = requests.Count;
            pool = actors.Single(a => a.GetProperty("path").GetString() == "/user/requests").GetProperty("state").GetString()!;
            Assert.True(busy == 0 && pool.Contains("inFlight=0", StringComparison.Ordinal), $"{busy} request actors still busy; pool: {pool}");
        });

        // Kept for the next requests: no more than ran at once.
        Assert.InRange(requestActors, 1, 50);
        Assert.Contains($"idle={requestActors}", pool, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Metrics_exposes_requests_verdicts_redispatches_weights_and_latency()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        N1.Overload();
        using (await proxy.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
        }

        // An answer no rule had to judge reaches the client before its node's actor counts the try.
        await proxy.AwaitMetricAsync("proxy_node_upstream_duration_seconds_count{node=\"n2\"} 1");
        using var response = await proxy.Debug.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("proxy_node_requests_total{node=\"n1\",verdict=\"overloaded\",status=\"200\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_node_requests_total{node=\"n2\",verdict=\"answered\",status=\"200\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_requests_total{status=\"200\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_redispatches_total 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_overload_marks_total{node=\"n1\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_node_weight{node=\"n1\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_node_weight{node=\"n2\"} 128", text, StringComparison.Ordinal);
        Assert.Contains("proxy_node_in_flight{node=\"n1\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("proxy_node_upstream_duration_seconds_count{node=\"n2\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("proxy_request_duration_seconds_count 1", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_and_readiness_answer()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        Assert.Equal("ok\n", await proxy.Debug.GetStringAsync("/healthz"));
        Assert.StartsWith("ready: 2 nodes", await proxy.Debug.GetStringAsync("/readyz"), StringComparison.Ordinal);
        var cluster = await proxy.Debug.GetFromJsonAsync<JsonElement>("/debug/cluster");
        Assert.Equal("up", Assert.Single(cluster.GetProperty("members").EnumerateArray()).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Drain_takes_a_node_out_of_rotation_and_enable_brings_it_back_gently()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var drained = await proxy.Debug.PostAsync("/debug/nodes/n1/drain", null);
        var state = await drained.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("drained", state.GetProperty("state").GetString());
        Assert.Equal(0, state.GetProperty("weight").GetInt32());

        for (var i = 0; i < 10; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        }

        Assert.Equal(0, N1.Hits);

        using var enabled = await proxy.Debug.PostAsync("/debug/nodes/n1/enable", null);
        state = await enabled.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("restoring", state.GetProperty("state").GetString());
        Assert.Equal(1, state.GetProperty("weight").GetInt32());
    }

    [Fact]
    public async Task Setting_a_weight_takes_effect_at_once()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Debug.PostAsync("/debug/nodes/n2/weight?value=64", null);
        var state = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(64, state.GetProperty("weight").GetInt32());
        Assert.Equal(64, state.GetProperty("configuredWeight").GetInt32());
        for (var i = 0; i < 192; i++)
        {
            using var call = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        }

        Assert.Equal(128, N1.Hits);
        Assert.Equal(64, N2.Hits);
    }

    [Theory]
    [InlineData("/debug/nodes/nope/drain", HttpStatusCode.NotFound, "unknown node 'nope'")]
    [InlineData("/debug/nodes/nope/enable", HttpStatusCode.NotFound, "unknown node 'nope'")]
    [InlineData("/debug/nodes/n1/weight?value=0", HttpStatusCode.BadRequest, "from 1 to 256")]
    [InlineData("/debug/nodes/n1/weight?value=heavy", HttpStatusCode.BadRequest, "from 1 to 256")]
    [InlineData("/debug/nodes/n1/weight", HttpStatusCode.BadRequest, "from 1 to 256")]
    public async Task Bad_admin_requests_get_a_clear_error(string path, HttpStatusCode status, string reason)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Debug.PostAsync(path, null);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(reason, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_token_every_debug_request_must_carry_it()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Debug:Token=s3cret");

        using var anonymous = await proxy.Debug.GetAsync("/debug/nodes");
        using var wrong = await proxy.Debug.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/debug/nodes") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "guess") } });
        using var right = await proxy.Debug.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/debug/nodes") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } });
        using var dashboard = await proxy.Debug.GetAsync("/debug?access_token=s3cret");

        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
    }

    [Theory]
    [InlineData("Origin", "http://evil.example")]
    [InlineData("Origin", "null")]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    public async Task A_state_change_sent_by_another_web_origin_is_refused_and_changes_nothing(string header, string value)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/debug/nodes/n1/drain");
        request.Headers.TryAddWithoutValidation(header, value);

        using var response = await proxy.Debug.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("another web origin", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("healthy", (await proxy.NodesAsync())["n1"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_state_change_from_the_listeners_own_origin_or_without_one_is_served()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        using var own = new HttpRequestMessage(HttpMethod.Post, "/debug/nodes/n1/drain");
        own.Headers.TryAddWithoutValidation("Origin", proxy.Debug.BaseAddress!.GetLeftPart(UriPartial.Authority));
        own.Headers.TryAddWithoutValidation("Sec-Fetch-Site", "same-origin");

        using var fromDashboard = await proxy.Debug.SendAsync(own);
        using var fromCurl = await proxy.Debug.PostAsync("/debug/nodes/n1/enable", null);

        Assert.Equal(HttpStatusCode.OK, fromDashboard.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromCurl.StatusCode);
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:8081")]
    [InlineData("10.0.0.1")]
    public async Task A_listener_without_a_token_answers_only_requests_to_a_loopback_name(string host)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        var head = await RawHttp.SendAsync(proxy.Debug.BaseAddress!, $"GET /debug/nodes HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        var local = await RawHttp.SendAsync(proxy.Debug.BaseAddress!, "GET /debug/nodes HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 403", head, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 200", local, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_in_the_query_string_never_authorises_a_change()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Debug:Token=s3cret");

        using var byQuery = await proxy.Debug.PostAsync("/debug/nodes/n1/drain?access_token=s3cret", null);
        using var byHeader = await proxy.Debug.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/debug/nodes/n1/drain") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "s3cret") } });

        Assert.Equal(HttpStatusCode.Unauthorized, byQuery.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byHeader.StatusCode);
    }

    [Fact]
    public async Task A_debug_listener_on_an_ipv4_mapped_address_listens_on_that_ipv4_address()
    {
        var port = FreePort.Next();
        await using var proxy = await ProxyHarness.StartAsync(Nodes, $"--Proxy:Debug:Listen=http://[::ffff:127.0.0.1]:{port}");
        using var http = new HttpClient();

        Assert.Equal("ok\n", await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/healthz")));
    }

    [Fact]
    public void A_debug_listener_off_loopback_without_a_token_is_refused_at_start_up()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => ProxyApp.Build([
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", $"--Proxy:Debug:Listen=http://0.0.0.0:{FreePort.Next()}"]));

        Assert.Equal("Proxy:Debug:Token", ex.Key);
    }

    [Fact]
    public async Task The_dashboard_is_one_self_contained_page()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Debug.GetAsync("/debug");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/debug/nodes", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script src", html, StringComparison.Ordinal);
    }

    private static IEnumerable<JsonElement> Flatten(JsonElement actors)
    {
        foreach (var actor in actors.EnumerateArray())
        {
            yield return actor;
            foreach (var child in Flatten(actor.GetProperty("children")))
            {
                yield return child;
            }
        }
    }
}

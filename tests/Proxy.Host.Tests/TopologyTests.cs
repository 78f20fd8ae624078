using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>Nodes added and removed at run time through the admin API (issue 21).</summary>
public sealed class TopologyTests : NodesTest
{
    public TopologyTests()
        : base(3)
    {
    }

    private TestNode N3 => Nodes[2];

    private static JsonContent Node(string name, string address, int weight = 128) =>
        JsonContent.Create(new { name, address, weight });

    [Fact]
    public async Task A_node_added_through_the_admin_api_starts_cold_and_serves_and_a_removed_one_is_gone()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Overload:RestoreInterval=100ms");

        using var added = await proxy.Debug.PostAsync("/debug/nodes", Node("n3", N3.Address, 64));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var state = await added.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("n3", state.GetProperty("name").GetString());
        Assert.Equal(64, state.GetProperty("configuredWeight").GetInt32());

        // Cold, then whole: the restorer brings it to its weight; then it takes its share.
        await proxy.AwaitNodeAsync("n3", n => Assert.Equal("healthy", n.GetProperty("state").GetString()));
        for (var i = 0; i < 40; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.True(N3.Hits > 0);
        Assert.Contains("proxy_node_weight{node=\"n3\"}", await proxy.Debug.GetStringAsync("/metrics"), StringComparison.Ordinal);

        using var removed = await proxy.Debug.DeleteAsync("/debug/nodes/n3");
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.DoesNotContain("n3", (await proxy.NodesAsync()).Keys);
        var hits = N3.Hits;
        for (var i = 0; i < 20; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(hits, N3.Hits);
        await Eventually.AssertAsync(async () =>
        {
            Assert.DoesNotContain("node=\"n3\"", await proxy.Debug.GetStringAsync("/metrics"), StringComparison.Ordinal);
            Assert.DoesNotContain("node=n3 ", await proxy.Debug.GetStringAsync("/debug/actors"), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task The_admin_api_refuses_a_taken_name_a_bad_address_an_oversized_body_an_unknown_node_and_a_foreign_origin()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        using var taken = await proxy.Debug.PostAsync("/debug/nodes", Node("N1", N2.Address));
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        using var badAddress = await proxy.Debug.PostAsync("/debug/nodes", Node("n2", "ftp://10.0.0.1"));
        Assert.Equal(HttpStatusCode.BadRequest, badAddress.StatusCode);
        Assert.Contains("node:Address", await badAddress.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var badWeight = await proxy.Debug.PostAsync("/debug/nodes", Node("n2", N2.Address, 999));
        Assert.Equal(HttpStatusCode.BadRequest, badWeight.StatusCode);

        // A node at the proxy's own listener would forward every request back to it, for ever.
        using var itself = await proxy.Debug.PostAsync("/debug/nodes", Node("self", proxy.Client.BaseAddress!.ToString().TrimEnd('/')));
        Assert.Equal(HttpStatusCode.BadRequest, itself.StatusCode);
        Assert.Contains("own listener", await itself.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var notJson = await proxy.Debug.PostAsync("/debug/nodes", new StringContent("name=n2", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        using var unknown = await proxy.Debug.DeleteAsync("/debug/nodes/nope");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

        // .NET's "$" matches before a final newline: such a name once crashed the node supervisor
        // and left every client call hanging.
        using var newline = await proxy.Debug.PostAsync("/debug/nodes", Node("n2\n", N2.Address));
        Assert.Equal(HttpStatusCode.BadRequest, newline.StatusCode);
        using var stringWeight = await proxy.Debug.PostAsync("/debug/nodes", new StringContent($"{{\"name\":\"n2\",\"address\":\"{N2.Address}\",\"weight\":\"5\"}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, stringWeight.StatusCode);
        // A megabyte of name is not read whole, nor sent back in the answer.
        using var huge = await proxy.Debug.PostAsync("/debug/nodes", Node(new string('n', 1024 * 1024), N2.Address));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.InRange((await huge.Content.ReadAsStringAsync()).Length, 1, 1024);
        using var hugeDrain = await proxy.Debug.PostAsync("/debug/nodes/n1/drain", new ByteArrayContent(new byte[100_000]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, hugeDrain.StatusCode);
        using (var stillServing = await proxy.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
            Assert.Equal(HttpStatusCode.OK, stillServing.StatusCode);
        }

        using var foreign = new HttpRequestMessage(HttpMethod.Delete, "/debug/nodes/n1");
        foreign.Headers.Add("Origin", "http://evil.example");
        using var refused = await proxy.Debug.SendAsync(foreign);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("n1", (await proxy.NodesAsync()).Keys);

        // With every node removed, clients would get 502s: not ready.
        using (await proxy.Debug.DeleteAsync("/debug/nodes/n1"))
        {
        }

        using var ready = await proxy.Debug.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
    }

    [Fact]
    public async Task Clients_looping_while_nodes_are_added_removed_and_reweighted_every_200ms_lose_no_call()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Overload:RestoreInterval=100ms");
        using var stop = new CancellationTokenSource();
        var failed = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var calls = 0;
        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
                Interlocked.Increment(ref calls);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failed.Enqueue($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        })).ToArray();

        for (var round = 0; round < 10; round++)
        {
            using (await proxy.Debug.PostAsync("/debug/nodes", Node("n2", N2.Address)))
            {
            }

            await Task.Delay(200);
            using (await proxy.Debug.PostAsync("/debug/nodes", Node("n3", N3.Address, 32)))
            {
            }

            await Task.Delay(200);
            using (await proxy.Debug.PostAsync($"/debug/nodes/n1/weight?value={(round % 2 == 0 ? 16 : 200)}", null))
            {
            }

            await Task.Delay(200);
            using (await proxy.Debug.DeleteAsync("/debug/nodes/n2"))
            {
            }

            await Task.Delay(200);
            using (await proxy.Debug.DeleteAsync("/debug/nodes/n3"))
            {
            }

            await Task.Delay(200);
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.Empty(failed);
        Assert.True(calls > 100, $"only {calls} calls");
        Assert.True(N2.Hits > 0 && N3.Hits > 0, $"added nodes served nothing (n2 {N2.Hits}, n3 {N3.Hits})");
    }

    [Fact]
    public async Task Nodes_in_the_watched_config_file_change_live_and_an_invalid_change_is_refused_whole()
    {
        using var file = new ConfigFile();
        file.WriteNodes(("n1", N1, 128));
        await using var proxy = ProxyProcess.Start("--config", file.Path);
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient { BaseAddress = proxy.Debug };

        file.WriteNodes(("n1", N1, 128), ("n2", N2, 64));
        await Eventually.AssertAsync(async () =>
        {
            var doc = await http.GetFromJsonAsync<JsonElement>("/debug/nodes");
            Assert.Contains(doc.GetProperty("nodes").EnumerateArray(), n => n.GetProperty("name").GetString() == "n2");
            Assert.Equal("applied", doc.GetProperty("reload").GetProperty("result").GetString());
        });

        // One bad value refuses the whole change: n3 is not added either.
        file.WriteNodes(("n1", N1, 128), ("n2", N2, 999), ("n3", N3, 128));
        await Eventually.AssertAsync(async () =>
        {
            var doc = await http.GetFromJsonAsync<JsonElement>("/debug/nodes");
            Assert.Equal("refused", doc.GetProperty("reload").GetProperty("result").GetString());
            Assert.Contains("Proxy:Nodes:1:Weight", doc.GetProperty("reload").GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal(["n1", "n2"], doc.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()));
        });
        await proxy.WaitForOutputAsync("Configuration change refused, the running configuration stays");

        file.Write("{ this is not json");
        await Eventually.AssertAsync(async () =>
            Assert.Contains("cannot be read", (await http.GetFromJsonAsync<JsonElement>("/debug/nodes")).GetProperty("reload").GetProperty("message").GetString(), StringComparison.Ordinal));

        file.WriteNodes(("n2", N2, 32));
        await Eventually.AssertAsync(async () =>
        {
            var doc = await http.GetFromJsonAsync<JsonElement>("/debug/nodes");
            var node = Assert.Single(doc.GetProperty("nodes").EnumerateArray());
            Assert.Equal("n2", node.GetProperty("name").GetString());
            Assert.Equal(32, node.GetProperty("configuredWeight").GetInt32());
        });
        using var response = await new HttpClient().PostAsync(new Uri(proxy.Client, "/RPC2"), XmlRpcCall());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // SIGHUP reads every source again; nothing changed, and it says so.
        proxy.Signal("HUP");
        await proxy.WaitForOutputAsync("SIGHUP: reading the configuration again");
        await proxy.WaitForOutputAsync("Configuration change applied: no node changed");
    }

    [Fact]
    public async Task A_change_to_a_key_read_only_at_start_up_is_logged_as_needing_a_restart()
    {
        using var file = new ConfigFile();
        file.WriteNodes(("n1", N1, 128));
        await using var proxy = ProxyProcess.Start("--config", file.Path);
        await proxy.WaitUntilServingAsync();

        file.Write(ConfigFile.Nodes([("n1", N1, 128)], "\"Limits\":{\"MaxRequestBody\":1000}")[..^1] + ",\"Serilog\":{\"MinimumLevel\":{\"Default\":\"Warning\"}}}");

        await proxy.WaitForOutputAsync("Configuration change needs a restart to apply (the running values stay): Proxy:Limits:MaxRequestBody, Serilog:MinimumLevel:Default");

        // Put back to the values running: nothing waits for a restart any more, and it says so.
        file.Write(ConfigFile.Nodes([("n1", N1, 64)]));
        using var http = new HttpClient { BaseAddress = proxy.Debug };
        await Eventually.AssertAsync(async () =>
        {
            var reload = (await http.GetFromJsonAsync<JsonElement>("/debug/nodes")).GetProperty("reload").GetProperty("message").GetString();
            Assert.Contains("n1", reload, StringComparison.Ordinal);
            Assert.DoesNotContain("needs a restart", reload, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_config_file_that_is_missing_or_not_json_stops_start_up_with_one_line()
    {
        var missing = await ProxyProcess.RunAsync("--config", "/nonexistent/proxy.json");
        Assert.Equal(2, missing.Exit);
        Assert.Contains("--config: '/nonexistent/proxy.json' does not exist", missing.Stderr, StringComparison.Ordinal);

        var file = Path.Combine(Path.GetTempPath(), $"proxy-{Guid.NewGuid():N}.json");
        // A missing comma: the parser's words and where, not the provider's "Could not parse the JSON file".
        await File.WriteAllTextAsync(file, "{\n  \"Proxy\": {\n    \"Listen\": \"http://127.0.0.1:1\"\n    \"Debug\": {}\n  }\n}\n");
        var broken = await ProxyProcess.RunAsync("--config", file);
        Assert.Equal(2, broken.Exit);
        Assert.Contains("cannot be read", broken.Stderr, StringComparison.Ordinal);
        Assert.Contains("(line 4, column 5)", broken.Stderr, StringComparison.Ordinal);

        await File.WriteAllTextAsync(file, "{\"Proxy\":{\"Nodes\":[{\"Name\":\"a\",\"Address\":\"http://127.0.0.1:9\"}],\"Classifiers\":[]}}");
        var empty = await ProxyProcess.RunAsync("--config", file);
        Assert.Equal(2, empty.Exit);
        Assert.Contains("Proxy:Classifiers: is an empty list", empty.Stderr, StringComparison.Ordinal);
        File.Delete(file);
    }

    [Fact]
    public async Task A_new_classifier_chain_in_the_watched_file_judges_new_tries_while_clients_keep_calling()
    {
        // n1 answers "BUSY" with a 200: the default chain (the XML-RPC fault rule) delivers it.
        N1.Handle(ctx => Results.Text("BUSY", "text/plain").ExecuteAsync(ctx));
        using var file = new ConfigFile();
        (string, TestNode, int)[] nodes = [("n1", N1, 128), ("n2", N2, 128)];
        file.Write(ConfigFile.Nodes(nodes, restoreInterval: null));
        await using var proxy = ProxyProcess.Start("--config", file.Path);
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient();
        using (var before = await http.GetAsync(new Uri(proxy.Client, "/a")))
        using (var again = await http.GetAsync(new Uri(proxy.Client, "/b")))
        {
            Assert.Contains("BUSY", await before.Content.ReadAsStringAsync() + await again.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var stop = new CancellationTokenSource();
        var failed = 0;
        var looping = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await http.GetAsync(new Uri(proxy.Client, "/loop"));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        });

        file.Write(ConfigFile.Nodes(nodes, "\"Classifiers\":[{\"Name\":\"busy\",\"Type\":\"BodyRegex\",\"Pattern\":\"BUSY\",\"Verdict\":\"Overloaded\"}]", restoreInterval: null));
        await proxy.WaitForOutputAsync("Configuration change applied: classifier chain [busy]");

        // From now on "BUSY" marks n1 and is redispatched: no client sees it.
        await Eventually.AssertAsync(async () =>
        {
            using var response = await http.GetAsync(new Uri(proxy.Client, "/c"));
            Assert.DoesNotContain("BUSY", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal("overloaded", (await http.GetFromJsonAsync<JsonElement>(new Uri(proxy.Debug, "/debug/nodes")))
                .GetProperty("nodes").EnumerateArray().First(n => n.GetProperty("name").GetString() == "n1").GetProperty("state").GetString());
        });
        await stop.CancelAsync();
        await looping;
        Assert.Equal(0, failed);
    }

    [Fact]
    public async Task A_node_that_resolves_its_host_becomes_one_node_per_record_named_name_at_ip()
    {
        // "localhost" resolves to 127.0.0.1 (and maybe ::1, where nothing listens: that one fails
        // and is redispatched, like any node that refuses).
        var port = new Uri(N3.Address).Port;
        await using var proxy = await ProxyHarness.StartAsync(
            [N1],
            "--Proxy:Nodes:1:Name=dns", $"--Proxy:Nodes:1:Address=http://localhost:{port}", "--Proxy:Nodes:1:Resolve=true",
            "--Proxy:Nodes:1:ResolveInterval=1s", "--Proxy:Overload:RestoreInterval=100ms");

        await proxy.AwaitNodeAsync("dns@127.0.0.1", n => Assert.Equal($"http://127.0.0.1:{port}", n.GetProperty("address").GetString()));
        Assert.DoesNotContain("dns", (await proxy.NodesAsync()).Keys);
        await proxy.AwaitNodeAsync("dns@127.0.0.1", n => Assert.Equal("healthy", n.GetProperty("state").GetString()));
        for (var i = 0; i < 20; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.True(N3.Hits > 0);
        // Dialled by IP, named as configured: the node sees the Host it would behind nginx's proxy_pass.
        Assert.All(N3.Received, r => Assert.Equal($"localhost:{port}", r.Headers["Host"]));
    }

    [Fact]
    public async Task Resolve_on_an_address_that_names_no_host_stops_start_up_with_one_line()
    {
        var (exit, _, stderr) = await ProxyProcess.RunAsync(
            "--Proxy:Nodes:0:Name=n", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", "--Proxy:Nodes:0:Resolve=true",
            $"--Proxy:Listen=http://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}");

        Assert.Equal(2, exit);
        Assert.Contains("Proxy:Nodes:0:Resolve: needs an http:// or https:// address that names a host", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clients_looping_while_the_config_file_and_sighup_change_the_nodes_every_200ms_lose_no_call()
    {
        using var file = new ConfigFile();
        file.WriteNodes(("n1", N1, 128));
        await using var proxy = ProxyProcess.Start("--config", file.Path);
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient();
        using var stop = new CancellationTokenSource();
        var failed = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await http.PostAsync(new Uri(proxy.Client, "/RPC2"), XmlRpcCall());
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failed.Enqueue($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
            }
        })).ToArray();

        (string, TestNode, int)[][] sets =
        [
            [("n1", N1, 128), ("n2", N2, 64)],
            [("n1", N1, 16), ("n2", N2, 64), ("n3", N3, 32)],
            [("n2", N2, 64), ("n3", N3, 200)],
            [("n1", N1, 128), ("n3", N3, 32)],
        ];
        // The file is polled every 4 s; SIGHUP makes each write apply at once, every 200 ms.
        for (var round = 0; round < 12; round++)
        {
            file.WriteNodes(sets[round % sets.Length]);
            proxy.Signal("HUP");
            await Task.Delay(200);
        }

        file.WriteNodes(("n1", N1, 128));
        await proxy.WaitForOutputAsync("Configuration change applied");
        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.True(failed.IsEmpty, $"{failed.Count} failed, e.g. {failed.FirstOrDefault()}\n{proxy.Output}");
        Assert.True(N2.Hits > 0 || N3.Hits > 0, "the nodes the file added served nothing");
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

// Clusters of real processes time heartbeats: they run one class at a time, not beside each other.
[Collection(ClusterCollection.Name)]
public sealed class ClusterTests : NodesTest
{
    private static string[] Member(int port, int seedPort, params string[] extra) =>
    [
        "--Proxy:Cluster:Enabled=true", "--Proxy:Cluster:Host=127.0.0.1", $"--Proxy:Cluster:Port={port}",
        $"--Proxy:Cluster:Seeds:0=akka.tcp://proxy@127.0.0.1:{seedPort}", "--Proxy:Cluster:StableAfter=00:00:02",
        .. extra,
    ];

    private static Task AwaitMembersUpAsync(HttpClient debug, int count) =>
        Eventually.AssertAsync(
            async () =>
            {
                var cluster = await debug.GetFromJsonAsync<JsonElement>("/debug/cluster");
                var up = cluster.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "up" && m.GetProperty("reachable").GetBoolean());
                Assert.True(up == count && cluster.GetProperty("members").GetArrayLength() == count, $"expected {count} members up, saw: {cluster}");
            },
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(100));

    [Fact]
    public async Task A_mark_made_on_one_proxy_reaches_the_others_and_a_late_joiner_learns_it()
    {
        var seedPort = FreePort.Next();
        await using var a = await ProxyHarness.StartAsync(Nodes, Member(seedPort, seedPort));
        await using var b = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort));
        await AwaitMembersUpAsync(a.Debug, 2);
        await AwaitMembersUpAsync(b.Debug, 2);

        N1.Overload();
        using (await a.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
        }

        var seedAddress = $"akka.tcp://proxy@127.0.0.1:{seedPort}";
        await b.AwaitNodeAsync("n1", n =>
        {
            Assert.Equal("overloaded", n.GetProperty("state").GetString());
            Assert.Equal(1, n.GetProperty("weight").GetInt32());
            Assert.Equal(seedAddress, n.GetProperty("observedBy").GetString());
        });
        Assert.Equal("local", (await a.NodesAsync())["n1"].GetProperty("observedBy").GetString());

        await using var late = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort));
        await late.AwaitNodeAsync("n1", n => Assert.Equal("overloaded", n.GetProperty("state").GetString()), TimeSpan.FromSeconds(60));

        // Spared by all: the members that only heard of the mark send n1 almost nothing.
        N1.Recover();
        var before = N1.Hits;
        for (var i = 0; i < 20; i++)
        {
            using var response = await b.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.InRange(N1.Hits - before, 0, 1);
    }

    [Fact]
    public async Task An_operator_drain_on_one_proxy_applies_on_the_others()
    {
        var seedPort = FreePort.Next();
        await using var a = await ProxyHarness.StartAsync(Nodes, Member(seedPort, seedPort));
        await using var b = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort));
        await AwaitMembersUpAsync(b.Debug, 2);

        using (await a.Debug.PostAsync("/debug/nodes/n2/drain", null))
        {
        }

        await b.AwaitNodeAsync("n2", n => Assert.Equal("drained", n.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task A_member_that_joins_while_a_node_comes_back_from_a_drain_eases_it_in_like_the_others()
    {
        var seedPort = FreePort.Next();
        // A restorer tick of a minute holds the node at its first step for the whole test.
        await using var a = await ProxyHarness.StartAsync(Nodes, Member(seedPort, seedPort, "--Proxy:Overload:RestoreInterval=00:01:00"));
        await AwaitMembersUpAsync(a.Debug, 1);
        using (await a.Debug.PostAsync("/debug/nodes/n2/drain", null))
        {
        }

        using (await a.Debug.PostAsync("/debug/nodes/n2/enable", null))
        {
        }

        await a.AwaitNodeAsync("n2", n => Assert.Equal("restoring", n.GetProperty("state").GetString()));

        // It never saw the drain: only the enable, the latest word on the node's rotation.
        await using var late = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort, "--Proxy:Overload:RestoreInterval=00:01:00"));
        await late.AwaitNodeAsync(
            "n2",
            n =>
            {
                Assert.Equal("restoring", n.GetProperty("state").GetString());
                Assert.Equal(1, n.GetProperty("weight").GetInt32());
            },
            TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Members_holding_certificates_of_the_fleets_ca_form_a_cluster_over_mutual_tls_and_a_stranger_is_refused()
    {
        using var fleet = TestCertificates.Create("Fleet CA");
        using var strangers = TestCertificates.Create("Stranger CA");
        string[] Tls(IssuedCertificate certificate) =>
            [$"--Proxy:Cluster:Tls:CertificateFile={certificate.CertificateFile}", $"--Proxy:Cluster:Tls:KeyFile={certificate.KeyFile}", $"--Proxy:Cluster:Tls:CaFile={fleet.CaFile}"];
        var seedPort = FreePort.Next();
        await using var a = await ProxyHarness.StartAsync(Nodes, Member(seedPort, seedPort, Tls(fleet.Member("a", "member-a"))));
        // The seed as /debug/cluster shows it: akka.ssl.tcp:// names the same member.
        await using var b = await ProxyHarness.StartAsync(Nodes, [.. Member(FreePort.Next(), seedPort, Tls(fleet.Member("b", "member-b"))), $"--Proxy:Cluster:Seeds:0=akka.ssl.tcp://proxy@127.0.0.1:{seedPort}"]);
        await AwaitMembersUpAsync(a.Debug, 2);
        var cluster = await a.Debug.GetFromJsonAsync<JsonElement>("/debug/cluster");
        Assert.StartsWith("akka.ssl.tcp://proxy@127.0.0.1:", cluster.GetProperty("self").GetString(), StringComparison.Ordinal);

        using (await a.Debug.PostAsync("/debug/nodes/n2/drain", null))
        {
        }

        await b.AwaitNodeAsync("n2", n => Assert.Equal("drained", n.GetProperty("state").GetString()));

        // A certificate of another CA, even from a member that trusts the fleet's, and one of the
        // fleet's CA that is not for clients: no handshake, so neither joins, and the fleet stays two.
        await using var stranger = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort, Tls(strangers.Member("x", "member-x"))));
        await using var serverOnly = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort, Tls(fleet.Server("y", "member-y", ["127.0.0.1"]))));
        foreach (var refused in new[] { stranger, serverOnly })
        {
            // Refused: it founds a cluster of its own, or Akka stops its try after the failed handshake.
            await Eventually.AssertAsync(
                async () =>
                {
                    var view = await refused.Debug.GetFromJsonAsync<JsonElement>("/debug/cluster");
                    Assert.True(view.GetProperty("status").GetString() == "alone" || view.GetProperty("incarnation").GetInt32() >= 2, $"not refused yet: {view}");
                },
                TimeSpan.FromSeconds(60));
            Assert.Equal("healthy", (await refused.NodesAsync())["n2"].GetProperty("state").GetString());
        }

        await AwaitMembersUpAsync(a.Debug, 2);
    }

    [Fact]
    public async Task A_node_an_operator_adds_or_removes_on_one_proxy_is_added_or_removed_on_the_others()
    {
        var seedPort = FreePort.Next();
        await using var a = await ProxyHarness.StartAsync([N1], Member(seedPort, seedPort));
        await using var b = await ProxyHarness.StartAsync([N1], Member(FreePort.Next(), seedPort));
        await AwaitMembersUpAsync(b.Debug, 2);

        using (var added = await a.Debug.PostAsync("/debug/nodes", JsonContent.Create(new { name = "n2", address = N2.Address, weight = 64 })))
        {
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }

        await b.AwaitNodeAsync("n2", n => Assert.Equal(64, n.GetProperty("configuredWeight").GetInt32()));
        using (await a.Debug.DeleteAsync("/debug/nodes/n2"))
        {
        }

        await Eventually.AssertAsync(async () => Assert.DoesNotContain("n2", (await b.NodesAsync()).Keys));
    }

    [Fact]
    public async Task On_sigterm_a_member_leaves_the_cluster_gracefully_and_exits_0()
    {
        var seedPort = FreePort.Next();
        // Downing would take a minute here: only a graceful leave removes the member sooner.
        string[] slowDowning = ["--Proxy:Cluster:StableAfter=00:01:00"];
        await using var survivor = await ProxyHarness.StartAsync(Nodes, [.. Member(seedPort, seedPort), .. slowDowning]);
        await using var leaving = ProxyProcess.Start([
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={N2.Address}",
            .. Member(FreePort.Next(), seedPort), "--Proxy:Cluster:StableAfter=00:01:00"]);
        await leaving.WaitUntilServingAsync();
        await AwaitMembersUpAsync(survivor.Debug, 2);

        leaving.Terminate();

        Assert.Equal(0, await leaving.WaitForExitAsync());
        await AwaitMembersUpAsync(survivor.Debug, 1);
    }

    [Fact]
    public async Task When_the_seed_is_killed_the_survivor_keeps_serving_and_downs_it()
    {
        var seedPort = FreePort.Next();
        await using var seed = ProxyProcess.Start([
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={N2.Address}",
            .. Member(seedPort, seedPort)]);
        await seed.WaitUntilServingAsync();
        await using var survivor = await ProxyHarness.StartAsync(Nodes, Member(FreePort.Next(), seedPort));
        await AwaitMembersUpAsync(survivor.Debug, 2);

        seed.Signal("KILL");

        for (var i = 0; i < 10; i++)
        {
            using var response = await survivor.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Two members, one gone: the survivor downs the dead seed instead of itself and carries on.
        await AwaitMembersUpAsync(survivor.Debug, 1);
        using var after = await survivor.Client.PostAsync("/RPC2", XmlRpcCall());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}

public sealed class ContainerEntryPointTests
{
    [Fact]
    public async Task The_compose_entry_points_run_a_demo_node_and_a_clustered_proxy_configured_by_environment()
    {
        var nodePort = FreePort.Next();
        var clusterPort = FreePort.Next();
        await using var node = ProxyProcess.Start(
            new Dictionary<string, string> { ["Demo__Name"] = "demo-1", ["Demo__Listen"] = $"http://127.0.0.1:{nodePort}" },
            "--demo-node");
        await using var proxy = ProxyProcess.Start(new Dictionary<string, string>
        {
            ["Proxy__Nodes__0__Name"] = "demo-1",
            ["Proxy__Nodes__0__Address"] = $"http://127.0.0.1:{nodePort}",
            ["Proxy__Cluster__Enabled"] = "true",
            ["Proxy__Cluster__Host"] = "127.0.0.1",
            ["Proxy__Cluster__Port"] = clusterPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Proxy__Cluster__Seeds__0"] = $"akka.tcp://proxy@127.0.0.1:{clusterPort}",
        });
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var ready = await http.PostAsync($"http://127.0.0.1:{nodePort}/RPC2", new StringContent("<methodCall/>"));
                break;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        var answer = await http.PostAsync(new Uri(proxy.Client, "/RPC2"), new StringContent("<methodCall/>"));
        var cluster = await http.GetStringAsync(new Uri(proxy.Debug, "/debug/cluster"));

        Assert.Contains("demo-1", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains($"akka.tcp://proxy@127.0.0.1:{clusterPort}", cluster, StringComparison.Ordinal);
        Assert.Equal(0, await ProxyProcess.RunToExitAsync("--healthcheck", $"--Proxy:Debug:Listen={proxy.Debug.OriginalString}"));
    }
}

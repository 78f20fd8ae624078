using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Proxy.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Proxy.Host.Tests;

/// <summary>Real-process fleets on loopback: formation, healing and marks across restarts (issue 19).</summary>
// Clusters of real processes time heartbeats: they run one class at a time, not beside each other.
[Collection(ClusterCollection.Name)]
public sealed class FleetTests : NodesTest
{
    private static readonly TimeSpan Heal = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MarkTravel = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _output;

    public FleetTests(ITestOutputHelper output) => _output = output;

    // Three members, the lowest frozen: the founder, the worst one to lose. Two members, the higher
    // frozen: the lowest, healthy, stays (keep-majority's tie-break) and the frozen one rejoins.
    [Theory]
    [InlineData(3, 0)]
    [InlineData(2, 1)]
    public async Task A_member_frozen_past_the_downing_time_rejoins_the_fleet_when_it_wakes(int size, int frozenIndex)
    {
        await using var fleet = Fleet.Of(Nodes, size);
        var all = fleet.Members;
        await Task.WhenAll(all.Select(m => m.StartServingAsync(all)));
        await fleet.AwaitOneClusterAsync(Heal);

        var frozen = all[frozenIndex];
        var other = all.First(m => m != frozen);
        frozen.Signal("STOP");
        await AwaitMembersSeenAsync(other, size - 1);
        frozen.Signal("CONT");

        _output.WriteLine($"healed {await fleet.AwaitOneClusterAsync(Heal)} after waking");
        await frozen.PostAsync("/debug/nodes/n1/drain");
        _output.WriteLine($"mark travelled in {await other.AwaitNodeStateAsync("n1", "drained", MarkTravel)}");
        await other.PostAsync("/debug/nodes/n2/drain");
        _output.WriteLine($"mark travelled in {await frozen.AwaitNodeStateAsync("n2", "drained", MarkTravel)}");
    }

    [Fact]
    public async Task Members_started_at_once_each_listing_itself_first_form_one_cluster()
    {
        await using var fleet = Fleet.Of(Nodes, 3);
        var all = fleet.Members;
        var started = DateTime.UtcNow;
        await Task.WhenAll(all.Select((m, i) => m.StartServingAsync(all.Skip(i).Concat(all.Take(i)))));

        await fleet.AwaitOneClusterAsync(Heal);
        _output.WriteLine($"formed {DateTime.UtcNow - started} after the processes started");
        await all[2].PostAsync("/debug/nodes/n1/drain");
        _output.WriteLine($"mark travelled in {await all[0].AwaitNodeStateAsync("n1", "drained", MarkTravel)}");
        _output.WriteLine($"mark travelled in {await all[1].AwaitNodeStateAsync("n1", "drained", MarkTravel)}");
    }

    [Fact]
    public async Task A_killed_seed_that_all_members_list_alone_rejoins_the_fleet_when_restarted()
    {
        await using var fleet = Fleet.Of(Nodes, 3);
        var all = fleet.Members;
        var seed = all[0];
        await seed.StartServingAsync([seed]);
        await Task.WhenAll(all.Skip(1).Select(m => m.StartServingAsync([seed])));
        await fleet.AwaitOneClusterAsync(Heal);

        await seed.KillAsync();
        await AwaitMembersSeenAsync(all[1], 2);
        await seed.StartServingAsync([seed]);

        // It founds a cluster of its own (it knows no one else); the larger one finds it and it gives way.
        _output.WriteLine($"healed {await fleet.AwaitOneClusterAsync(Heal)} after the restart");
        await all[1].PostAsync("/debug/nodes/n2/drain");
        _output.WriteLine($"mark travelled in {await seed.AwaitNodeStateAsync("n2", "drained", MarkTravel)}");
    }

    [Fact]
    public async Task A_drain_survives_the_restart_of_the_member_that_made_it()
    {
        await using var fleet = Fleet.Of(Nodes, 2);
        var all = fleet.Members;
        var (maker, other) = (all[0], all[1]);
        await Task.WhenAll(all.Select(m => m.StartServingAsync(all)));
        await fleet.AwaitOneClusterAsync(Heal);
        await maker.PostAsync("/debug/nodes/n1/drain");
        await other.AwaitNodeStateAsync("n1", "drained", MarkTravel);
        using (var http = new HttpClient())
        using (var added = await http.PostAsync(new Uri(maker.Running.Debug, "/debug/nodes"), JsonContent.Create(new { name = "n3", address = N2.Address, weight = 8 })))
        {
            Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        }

        await other.AwaitNodeStateAsync("n3", "restoring", MarkTravel);

        await maker.KillAsync();
        await maker.StartServingAsync(all);
        await fleet.AwaitOneClusterAsync(Heal);

        // Its new run adopts what its previous run decided: the drain, and the node it added (cold).
        await maker.AwaitNodeStateAsync("n1", "drained", MarkTravel);
        await maker.AwaitNodeStateAsync("n3", "restoring", MarkTravel);
        var before = N1.Hits;
        using var client = new HttpClient();
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.PostAsync(new Uri(maker.Running.Client, "/RPC2"), XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(before, N1.Hits);
    }

    [Fact]
    public async Task A_member_that_joins_later_learns_a_drain_made_after_an_overload()
    {
        await using var fleet = Fleet.Of(Nodes, 3);
        var all = fleet.Members;
        await Task.WhenAll(all.Take(2).Select(m => m.StartServingAsync(all)));
        await all[0].PostAsync("/debug/nodes/n1/drain");
        await all[1].AwaitNodeStateAsync("n1", "drained", MarkTravel);

        // n1 overloaded after the drain: a member that drained it still sends it nothing, but the
        // circuit and overload marks travel; a late joiner must see the drain, not the overload.
        await all[1].PostAsync("/debug/nodes/n1/enable");
        N1.Overload();
        using (var client = new HttpClient())
        {
            // Weight 1 of 129 while it restores: smooth round-robin reaches it within 129 calls.
            var hits = N1.Hits;
            for (var i = 0; i < 300 && N1.Hits == hits; i++)
            {
                using var _ = await client.PostAsync(new Uri(all[1].Running.Client, "/RPC2"), XmlRpcCall());
            }
        }

        await all[0].AwaitNodeStateAsync("n1", "overloaded", MarkTravel);
        await all[0].PostAsync("/debug/nodes/n1/drain");
        await all[1].AwaitNodeStateAsync("n1", "drained", MarkTravel);

        await all[2].StartServingAsync(all);
        await fleet.AwaitOneClusterAsync(Heal);
        await all[2].AwaitNodeStateAsync("n1", "drained", MarkTravel);
    }

    [Fact]
    public async Task A_rolling_restart_costs_no_live_member_a_request()
    {
        await using var fleet = Fleet.Of(Nodes, 3);
        var all = fleet.Members;
        await Task.WhenAll(all.Select(m => m.StartServingAsync(all)));
        await fleet.AwaitOneClusterAsync(Heal);

        using var stop = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var answered = 0;
        var looping = Task.Run(async () =>
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            while (!stop.IsCancellationRequested)
            {
                foreach (var member in all)
                {
                    if (member.Process is not { } process || process.Terminating)
                    {
                        continue;
                    }

                    try
                    {
                        using var response = await client.PostAsync(new Uri(process.Client, "/RPC2"), XmlRpcCall());
                        if ((int)response.StatusCode >= 500)
                        {
                            failures.Enqueue($"{member.ClusterPort}: {(int)response.StatusCode}");
                        }
                        else
                        {
                            Interlocked.Increment(ref answered);
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException)
                    {
                        // The member went down between the check and the call: not a live member's answer.
                        // A connection the kernel accepted just before the process died surfaces as a bare
                        // SocketException ("Transport endpoint is not connected") from HttpClient's connect.
                    }
                }
            }
        });

        foreach (var member in all)
        {
            await member.TerminateAsync();
            await member.StartServingAsync(all);
            await fleet.AwaitOneClusterAsync(Heal);
        }

        await stop.CancelAsync();
        await looping;
        _output.WriteLine($"{answered} answered during the rolling restart");
        Assert.Empty(failures);
        Assert.True(answered > 0);
    }

    [Fact]
    public async Task Members_found_through_a_dns_name_form_one_cluster()
    {
        // "localhost" resolves to 127.0.0.1: the member there is found by DNS alone, by a member
        // on another loopback address with the same port and no seeds.
        var port = Proxy.Testing.FreePort.Next();
        string[] Member(string host) =>
        [
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}",
            "--Proxy:Cluster:Enabled=true", $"--Proxy:Cluster:Host={host}", $"--Proxy:Cluster:Port={port}",
            "--Proxy:Cluster:DnsName=localhost", "--Proxy:Cluster:StableAfter=2s",
        ];
        await using var first = ProxyProcess.Start(Member("127.0.0.1"));
        await using var second = ProxyProcess.Start(Member("127.0.0.2"));
        await Task.WhenAll(first.WaitUntilServingAsync(), second.WaitUntilServingAsync());

        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + Heal;
        while (true)
        {
            var view = await http.GetFromJsonAsync<JsonElement>(new Uri(second.Debug, "/debug/cluster"));
            var up = view.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "up");
            if (view.GetProperty("status").GetString() == "up" && up == 2)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the members never formed one cluster: {view}");
            await Task.Delay(200);
        }

        Assert.Contains($"akka.tcp://proxy@127.0.0.2:{port}", await http.GetStringAsync(new Uri(first.Debug, "/debug/cluster")), StringComparison.Ordinal);
        Assert.Contains("proxy_cluster_members 2", await http.GetStringAsync(new Uri(first.Debug, "/metrics")), StringComparison.Ordinal);
    }

    private static Task AwaitMembersSeenAsync(FleetMember member, int count) =>
        Eventually.AssertAsync(
            async () => Assert.True((await member.ClusterAsync())?.GetProperty("members").GetArrayLength() == count, $"member {member.ClusterPort} never saw {count} members"),
            Heal,
            TimeSpan.FromMilliseconds(200));
}

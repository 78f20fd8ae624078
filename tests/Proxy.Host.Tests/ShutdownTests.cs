using System.Net;
using Microsoft.AspNetCore.Http;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Sigterm_stops_accepting_finishes_the_requests_in_flight_and_exits_0()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var node = await TestNode.StartAsync("n1");
        node.Handle(async ctx =>
        {
            await release.Task;
            await ctx.Response.WriteAsync("finished");
        });
        await using var proxy = ProxyProcess.Start($"--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };

        var inFlight = http.GetAsync(new Uri(proxy.Client, "/slow"));
        await Until(() => Task.FromResult(node.Hits == 1));
        proxy.Terminate();
        await Until(proxy.RefusesConnectionsAsync);
        release.SetResult();

        using var response = await inFlight;
        Assert.True(response.StatusCode == HttpStatusCode.OK, proxy.Output);
        Assert.Equal("finished", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, await proxy.WaitForExitAsync());
    }

    [Fact]
    public async Task A_request_still_in_flight_when_the_drain_runs_out_is_logged_as_cut_at_shutdown_not_as_a_client_that_left()
    {
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var node = await TestNode.StartAsync("n1");
        node.Handle(ctx => never.Task.WaitAsync(ctx.RequestAborted));
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}", "--Proxy:Shutdown:Drain=00:00:01");
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };

        var inFlight = http.GetAsync(new Uri(proxy.Client, "/held"));
        await Until(() => Task.FromResult(node.Hits == 1));
        proxy.Terminate();

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => inFlight);
        Assert.Equal(0, await proxy.WaitForExitAsync());
        Assert.Contains("GET /held -> 503 in ", proxy.Output, StringComparison.Ordinal);
        Assert.Contains(" ms via [n1:shutdown] refused: cut at shutdown: still in flight when Proxy:Shutdown:Drain ran out", proxy.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("-> 499", proxy.Output, StringComparison.Ordinal);
        Assert.Contains("Stopping: new connections refused; ", proxy.Output, StringComparison.Ordinal);
        Assert.Contains("Proxy:Shutdown:Drain (00:00:01) ran out: cutting what is still in flight", proxy.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Uploads_still_streaming_when_the_drain_runs_out_are_each_logged_as_cut_at_shutdown_not_blamed_on_the_client()
    {
        const int uploads = 5;
        var arrivedCount = 0;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var node = RawNode.KeepAlive(async (_, _) =>
        {
            // The head has come; the body never will, and no answer either.
            if (Interlocked.Increment(ref arrivedCount) == uploads)
            {
                arrived.TrySetResult();
            }

            await Task.Delay(Timeout.Infinite);
        });
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}", "--Proxy:Shutdown:Drain=00:00:01",
            "--Proxy:Limits:RequestBuffer=1024", "--Proxy:Limits:MinRequestBodyRate=0");
        await proxy.WaitUntilServingAsync();
        var clients = new List<System.Net.Sockets.TcpClient>();
        try
        {
            for (var i = 0; i < uploads; i++)
            {
                var client = new System.Net.Sockets.TcpClient();
                clients.Add(client);
                await client.ConnectAsync(proxy.Client.Host, proxy.Client.Port);
                var stream = client.GetStream();
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"POST /upload{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
                await stream.WriteAsync(new byte[4096]);
            }

            await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

            proxy.Terminate();

            Assert.Equal(0, await proxy.WaitForExitAsync());
            for (var i = 0; i < uploads; i++)
            {
                Assert.True(proxy.Output.Contains($"POST /upload{i} -> 503 in ", StringComparison.Ordinal), proxy.Output);
            }

            Assert.Equal(uploads, System.Text.RegularExpressions.Regex.Matches(proxy.Output, @" ms via \[n1:shutdown\] refused: cut at shutdown").Count);
            Assert.DoesNotContain("-> 400", proxy.Output, StringComparison.Ordinal);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Sigterm_ends_the_process_even_while_nobody_reads_its_standard_output()
    {
        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.StartWithUnreadStandardOutput(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}", "--Proxy:Shutdown:Drain=00:00:01");
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient { BaseAddress = proxy.Client, Timeout = TimeSpan.FromSeconds(30) };

        // Access-log lines of about 90 bytes: 3,000 of them are four times what the pipe holds, and
        // the access log's writer waits on it. The proxy keeps serving meanwhile.
        for (var i = 0; i < 3000; i++)
        {
            using var response = await http.GetAsync($"/fill/{i}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        proxy.Terminate();

        // The stop ends: at the hard stop while a console write waits, with exit code 1 and the
        // reason on standard error; within the drain if none waits by then (the proxy's own last
        // lines may still fit in the pipe's last page).
        var exit = await proxy.WaitForExitAsync();
        Assert.True(exit is 0 or 1, $"exit {exit}: {proxy.Output}");
        if (exit == 1)
        {
            Assert.Contains("the stop did not finish within Proxy:Shutdown:Drain", proxy.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_console_write_that_never_finishes_ends_at_the_hard_stop_with_exit_code_1_and_the_reason()
    {
        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.StartWithUnreadStandardOutput(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}", "--Proxy:Shutdown:Drain=00:00:01",
            "--Proxy:AccessLog:Enabled=false", "--Serilog:MinimumLevel:Override:Microsoft.AspNetCore.Server.Kestrel=Debug");
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient { BaseAddress = proxy.Client, Timeout = TimeSpan.FromSeconds(30) };

        // Kestrel's debug lines, a few per connection, fill the pipe many times over: the proxy's
        // own log's writer waits on it, with lines queued behind, and the stop waits for that log
        // to be flushed.
        for (var i = 0; i < 1000; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/fill/{i}");
            request.Headers.ConnectionClose = true;
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        proxy.Terminate();

        Assert.Equal(1, await proxy.WaitForExitAsync());
        Assert.Contains("the stop did not finish within Proxy:Shutdown:Drain", proxy.Output, StringComparison.Ordinal);
    }

    // A terminal closed right after "nohup proxy &" sends SIGHUP while the proxy starts; its
    // default action would end the process (129) before any handler is registered.
    [Fact]
    public async Task Sighup_never_stops_the_proxy_while_it_starts_serves_or_stops()
    {
        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.StartUnderNohup("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        using var hangups = new CancellationTokenSource();
        var hangingUp = Task.Run(async () =>
        {
            while (!hangups.IsCancellationRequested)
            {
                proxy.Signal("HUP");
                await Task.Delay(20);
            }
        });

        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient();
        using (var answer = await http.GetAsync(new Uri(proxy.Client, "/")))
        {
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        proxy.Terminate();
        var exit = await proxy.WaitForExitAsync();
        await hangups.CancelAsync();
        await hangingUp;

        Assert.True(exit == 0, proxy.Output);
    }

    [Fact]
    public async Task The_container_health_check_passes_against_a_running_proxy_and_fails_without_one()
    {
        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();

        Assert.Equal(0, await ProxyProcess.RunToExitAsync("--healthcheck", $"--Proxy:Debug:Listen={proxy.Debug.OriginalString}"));
        Assert.Equal(1, await ProxyProcess.RunToExitAsync("--healthcheck", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}"));

        // The debug listener named only in the --config file the proxy runs with, as in a container.
        using var file = new ConfigFile();
        file.Write($"{{\"Proxy\":{{\"Debug\":{{\"Listen\":\"{proxy.Debug.OriginalString.TrimEnd('/')}\"}}}}}}");
        Assert.Equal(0, await ProxyProcess.RunToExitAsync("--healthcheck", "--config", file.Path));
    }

    private static Task Until(Func<Task<bool>> condition) =>
        Eventually.AssertAsync(async () => Assert.True(await condition(), "condition not met within 30 s"), TimeSpan.FromSeconds(30));
}

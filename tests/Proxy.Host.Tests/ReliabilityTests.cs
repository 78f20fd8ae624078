using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class ReliabilityTests : NodesTest
{
    [Fact]
    public async Task A_malformed_answer_gives_502()
    {
        await using var raw = RawNode.Answering("this is not HTTP\r\n\r\n");
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)]);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("invalid answer", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_head_past_64_KiB_gives_502_naming_the_head_not_a_broken_connection()
    {
        await using var raw = RawNode.Answering($"HTTP/1.1 200 OK\r\nX-Big: {new string('a', 70 * 1024)}\r\nContent-Length: 2\r\n\r\nok");
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)]);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("node gave an invalid answer", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var failure = (await proxy.NodesAsync())["raw"].GetProperty("lastFailure");
        Assert.Equal("invalid-answer", failure.GetProperty("kind").GetString());
        Assert.Contains("its head is larger than the proxy reads", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("before")]
    [InlineData("during")]
    public async Task A_dropped_connection_is_redispatched_for_a_get_but_gives_502_for_a_post(string when)
    {
        await using var raw = when == "before"
            ? RawNode.DroppingBeforeAnswer()
            : RawNode.Answering("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address), (N2.Name, N2.Address)]);

        using var get = await proxy.Client.GetAsync("/item");
        using var post = await proxy.Client.PostAsync("/item", XmlRpcCall());
        using var secondPost = await proxy.Client.PostAsync("/item", XmlRpcCall());

        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        // Round-robin sends one of the two POSTs to the dropping node: that one may have done the work.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.BadGateway], new[] { post.StatusCode, secondPost.StatusCode }.Order());
        Assert.Equal(1, N2.Received.Count(r => r.Method == "POST"));
    }

    [Fact]
    public async Task Consecutive_failures_open_the_circuit_and_a_half_open_probe_closes_it()
    {
        N1.Handle(ctx => Results.StatusCode(500).ExecuteAsync(ctx));
        await using var proxy = await ProxyHarness.StartAsync(Nodes,
            "--Proxy:Circuit:FailureThreshold=2", "--Proxy:Circuit:BreakDuration=1s",
            "--Proxy:Classifiers:0:Name=errors", "--Proxy:Classifiers:0:Type=Status", "--Proxy:Classifiers:0:Codes:0=500", "--Proxy:Classifiers:0:Verdict=Failed");

        for (var i = 0; i < 4; i++)
        {
            using var response = await proxy.Client.GetAsync("/item");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var opened = (await proxy.NodesAsync())["n1"];
        Assert.Equal("open", opened.GetProperty("state").GetString());
        Assert.Equal(0, opened.GetProperty("weight").GetInt32());

        N1.Recover();
        await proxy.AwaitNodeAsync("n1", n => Assert.Equal("half-open", n.GetProperty("state").GetString()));
        var probe = 0;
        while ((await proxy.NodesAsync())["n1"].GetProperty("state").GetString() == "half-open")
        {
            Assert.True(++probe < 1000, "the half-open node never got its probe");
            using var response = await proxy.Client.GetAsync("/item");
        }

        Assert.Equal("restoring", (await proxy.NodesAsync())["n1"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task While_a_node_flaps_every_request_of_a_concurrent_load_succeeds_without_a_fault()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Overload:RestoreInterval=00:00:00.050");
        using var flapping = new CancellationTokenSource();
        var flapper = Task.Run(async () =>
        {
            var overloaded = false;
            while (!flapping.IsCancellationRequested)
            {
                overloaded = !overloaded;
                if (overloaded)
                {
                    N1.Overload();
                }
                else
                {
                    N1.Recover();
                }

                await Task.Delay(20);
            }
        });

        var failures = 0;
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= 4000)
            {
                using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK || body.Contains("faultCode", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }));
        await flapping.CancelAsync();
        await flapper;

        Assert.Equal(0, failures);
        Assert.True((await proxy.NodesAsync())["n1"].GetProperty("overloads").GetInt32() > 0, "the flapping node was never caught overloaded");
    }

    [Fact]
    public async Task A_request_framed_both_by_length_and_chunking_is_refused_and_never_reaches_a_node()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        // The CL.TE smuggling shape: a node reading Content-Length would see a second request.
        var answer = await RawHttp.SendAsync(proxy.Client.BaseAddress!,
            "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
            readHeadOnly: false);

        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
        Assert.Contains("Content-Length and Transfer-Encoding conflict", answer, StringComparison.Ordinal);
        Assert.Equal(0, N1.Hits + N2.Hits);
    }

    [Fact]
    public async Task A_malformed_request_gets_400_and_oversized_headers_get_431()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        Assert.StartsWith("HTTP/1.1 400", await RawHttp.SendAsync(proxy.Client.BaseAddress!, "GARBAGE\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 431", await RawHttp.SendAsync(proxy.Client.BaseAddress!,
            $"GET / HTTP/1.1\r\nHost: a\r\nX-Big: {new string('a', 64 * 1024)}\r\n\r\n"), StringComparison.Ordinal);
        Assert.Equal(0, N1.Hits + N2.Hits);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_over_the_limit_gets_413_and_never_reaches_a_node_whole(bool chunked)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Limits:MaxRequestBody=1000", "--Proxy:Limits:RequestBuffer=100");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = new ByteArrayContent(new byte[5000]) };
        request.Headers.TransferEncodingChunked = chunked;

        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.DoesNotContain(Nodes.SelectMany(n => n.Received), r => r.Body.Length == 5000);
        Assert.All(await proxy.NodesAsync(), n => Assert.Equal(0, n.Value.GetProperty("failures").GetInt32()));
    }

    [Fact]
    public async Task A_client_that_never_finishes_its_headers_is_cut_off_without_delaying_others()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Limits:RequestHeadersTimeout=00:00:01");
        using var slow = new TcpClient();
        await slow.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
        var stream = slow.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: a\r\nX-Half: "));

        using var other = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        // Kestrel may answer 408 before closing; either way the connection must end.
        var answer = await ReadToEndAsync(stream, TimeSpan.FromSeconds(30));
        Assert.True(answer is null || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"unexpected answer: {answer}");
    }

    [Fact]
    public async Task A_client_that_trickles_its_body_is_cut_off_without_delaying_others()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Limits:MinRequestBodyRate=1000");
        using var slow = new TcpClient();
        await slow.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
        var stream = slow.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"));
        using var trickle = new CancellationTokenSource();
        var trickler = Task.Run(async () =>
        {
            try
            {
                while (!trickle.IsCancellationRequested)
                {
                    await stream.WriteAsync("x"u8.ToArray(), trickle.Token);
                    await Task.Delay(200, trickle.Token);
                }
            }
            catch (Exception)
            {
                // The proxy hung up: what this test waits for.
            }
        });

        using var other = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        var answer = await ReadToEndAsync(stream, TimeSpan.FromSeconds(30));
        await trickle.CancelAsync();
        await trickler;

        Assert.True(answer is null || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"unexpected answer: {answer}");
        Assert.Equal(0, N1.Hits + N2.Hits - 1);
    }

    // Reads until the proxy closes the connection; null when it closed it without a byte of answer.
    private static async Task<string?> ReadToEndAsync(NetworkStream stream, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
        }

        Assert.False(timeout.IsCancellationRequested, "the slow client was never cut off");
        return received.Length == 0 ? null : received.ToString();
    }

    [Fact]
    public async Task Forwarding_headers_from_an_untrusted_client_are_replaced_not_trusted()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Forwarding:TrustedProxies:0=10.0.0.0/8");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "6.6.6.6");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "evil.example");
        request.Headers.TryAddWithoutValidation("Forwarded", "for=6.6.6.6;proto=https");
        request.Headers.TryAddWithoutValidation("X-Real-IP", "6.6.6.6");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Port", "1");
        request.Headers.TryAddWithoutValidation("X-Forwarded-Prefix", "/admin");

        using var response = await proxy.Client.SendAsync(request);

        var received = Assert.Single(N1.Received);
        Assert.Equal("127.0.0.1", received.Headers["X-Forwarded-For"]);
        Assert.Equal("http", received.Headers["X-Forwarded-Proto"]);
        Assert.Equal(proxy.Client.BaseAddress!.Authority, received.Headers["X-Forwarded-Host"]);
        Assert.False(received.Headers.ContainsKey("Forwarded"));
        Assert.False(received.Headers.ContainsKey("X-Real-IP"));
        Assert.False(received.Headers.ContainsKey("X-Forwarded-Port"));
        Assert.False(received.Headers.ContainsKey("X-Forwarded-Prefix"));
    }

    [Fact]
    public async Task Forwarding_headers_from_a_trusted_proxy_are_kept()
    {
        // Loopback is trusted by default: the test client stands for a proxy in front of this one.
        await using var proxy = await ProxyHarness.StartAsync([N1]);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation("Forwarded", "for=192.0.2.60;proto=https");
        request.Headers.TryAddWithoutValidation("X-Real-IP", "192.0.2.60");

        using var response = await proxy.Client.SendAsync(request);

        var received = Assert.Single(N1.Received);
        Assert.Equal("for=192.0.2.60;proto=https", received.Headers["Forwarded"]);
        Assert.Equal("192.0.2.60", received.Headers["X-Real-IP"]);
    }

    [Fact]
    public async Task A_node_header_in_latin1_reaches_the_client_as_the_same_bytes()
    {
        var head = "HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"caf\u00e9.txt\"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        await using var raw = RawNode.Answering(Encoding.Latin1.GetBytes(head));
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)]);

        var answer = Encoding.Latin1.GetString(await RawHttp.ExchangeAsync(proxy.Client.BaseAddress!, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.Contains("filename=\"caf\u00e9.txt\"", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_that_is_not_the_coding_it_claims_is_delivered_and_blames_no_node()
    {
        await using var raw = RawNode.Answering("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Encoding: br\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot brotli");
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)]);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("not brotli"u8.ToArray(), await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(0, (await proxy.NodesAsync())["raw"].GetProperty("failures").GetInt32());
    }

    [Theory]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbroken\r\n0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u0001b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("HTTP/1.1 205 Reset Content\r\nContent-Length: 5\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\nConnection: close\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: abc\r\nConnection: close\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nConnection: close\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\nConnection: close\r\n\r\nhello")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")]
    public async Task A_node_that_breaks_the_protocol_gets_the_client_a_502_never_a_500(string answer)
    {
        await using var raw = RawNode.Answering(answer);
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)]);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        // Counted as what the client got, and against the node that broke it.
        Assert.Contains("proxy_requests_total{status=\"502\"} 1", await proxy.Debug.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(1, (await proxy.NodesAsync())["raw"].GetProperty("failures").GetInt32());
    }

    [Theory]
    [InlineData("GET /r\rx HTTP/1.1")]
    [InlineData("GET /t\tx HTTP/1.1")]
    [InlineData("GET /e\u001b[2Jx HTTP/1.1")]
    [InlineData("GET /q?x=\u0001 HTTP/1.1")]
    [InlineData("GET /d\u007f HTTP/1.1")]
    public async Task A_request_target_with_a_control_byte_is_a_400_and_never_reaches_a_node(string requestLine)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, $"{requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400", head, StringComparison.Ordinal);
        Assert.All(Nodes, n => Assert.Equal(0, n.Hits));
    }

    [Fact]
    public async Task A_streamed_upload_that_pauses_after_its_head_is_delivered_on_a_connection_of_its_own()
    {
        // A fresh proxy gives each try a connection of its own until the node answers with
        // keep-alive; one nothing is written to for a second is closed as abandoned. The try's head
        // must go out at once, not wait in the write buffer for 4 KiB of a slow client's body.
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Limits:RequestBuffer=1024", "--Proxy:Limits:MinRequestBodyRate=0");
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\nConnection: close\r\n\r\n"));

        // A slow client (the pause is the client's behaviour under test, not a wait for the proxy).
        await Task.Delay(TimeSpan.FromSeconds(2));
        await stream.WriteAsync(new byte[3000]);

        var answer = new byte[256];
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(answer, 0, await stream.ReadAsync(answer)), StringComparison.Ordinal);
        Assert.Equal(3000, Assert.Single(N1.Received).Body.Length);
        Assert.Equal(0, (await proxy.NodesAsync())["n1"].GetProperty("failures").GetInt32());
    }

    [Fact]
    public async Task A_client_uploading_slower_than_the_response_timeout_gets_408_and_blames_no_node()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Limits:RequestBuffer=1024", "--Proxy:Timeouts:Response=1s", "--Proxy:Limits:MinRequestBodyRate=0");
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));

        // 2 KiB every 200 ms, well past the response timeout, until the proxy answers.
        var answer = new byte[256];
        var reading = stream.ReadAsync(answer).AsTask();
        while (!reading.IsCompleted)
        {
            await stream.WriteAsync(new byte[2048]);
            await Task.WhenAny(reading, Task.Delay(200));
        }

        Assert.StartsWith("HTTP/1.1 408", Encoding.ASCII.GetString(answer, 0, await reading), StringComparison.Ordinal);
        Assert.All((await proxy.NodesAsync()).Values, n => Assert.Equal(0, n.GetProperty("failures").GetInt32()));
    }

    [Fact]
    public async Task A_node_that_framed_an_answer_two_ways_never_has_a_connection_reused()
    {
        // Its first answer is coded gzip under chunked; on any connection it then answers nothing
        // more. HttpClient drained that connection and pooled it: the next try hung on it.
        var first = 0;
        var served = new System.Collections.Concurrent.ConcurrentDictionary<NetworkStream, int>();
        await using var raw = RawNode.KeepAlive(async (_, stream) =>
        {
            if (served.AddOrUpdate(stream, 1, (_, n) => n + 1) > 1)
            {
                await Task.Delay(Timeout.Infinite);
            }

            await stream.WriteAsync(Interlocked.Exchange(ref first, 1) == 0
                ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"u8.ToArray()
                : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray());
        });
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)], "--Proxy:Timeouts:Response=5s");

        using (var broken = await proxy.Client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, broken.StatusCode);
        }

        for (var i = 0; i < 3; i++)
        {
            using var response = await proxy.Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_node_whose_content_length_is_no_number_is_refused_at_once_and_a_get_goes_to_a_sibling()
    {
        // The connection stays open: read to its close, the answer would hold the try to its deadline.
        await using var raw = RawNode.KeepAlive(async (_, stream) =>
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello"u8.ToArray()));
        await using var good = await TestNode.StartAsync("good");
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address), ("good", good.Address)]);

        for (var i = 0; i < 4; i++)
        {
            using var response = await proxy.Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var nodes = await proxy.NodesAsync();
        Assert.True(nodes["raw"].GetProperty("failures").GetInt32() >= 1);
        Assert.Contains("invalid Content-Length", nodes["raw"].GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gzip, chunked")]
    [InlineData("chunked, chunked")]
    [InlineData("x-custom, CHUNKED")]
    public async Task A_request_with_a_transfer_coding_other_than_chunked_is_a_501_and_never_reaches_a_node(string codings)
    {
        await using var node = await TestNode.StartAsync("n");
        await using var proxy = await ProxyHarness.StartAsync([("n", node.Address)]);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, $"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {codings}\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 501", head, StringComparison.Ordinal);
        Assert.Empty(node.Received);
    }

    [Fact]
    public async Task A_node_not_trusted_with_connection_reuse_cannot_hand_its_stray_bytes_to_another_client()
    {
        // After each answer the node sends a second, unasked one a moment later: on a reused
        // connection that would be read as the next client's answer (measured without the switch:
        // about half of all answers went to the wrong client).
        await using var raw = RawNode.KeepAlive(async (head, stream) =>
        {
            var id = head.Split(' ')[1];
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {id.Length}\r\n\r\n{id}"));
            await Task.Delay(20);
            await stream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSTRAY!"u8.ToArray());
        });
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)], "--Proxy:Nodes:0:ReuseConnections=false");

        var wrong = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(client => Task.Run(async () =>
        {
            for (var i = 0; i < 30; i++)
            {
                var id = $"/c{client}-{i}";
                using var response = await proxy.Client.GetAsync(id);
                if (await response.Content.ReadAsStringAsync() != id)
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })));

        Assert.Equal(0, wrong);
    }

    [Fact]
    public async Task A_node_that_stalls_mid_stream_has_its_answer_cut_after_the_response_timeout()
    {
        // 70 KB of a promised 1 MB (past the 64 KiB buffered part), then nothing.
        await using var raw = RawNode.KeepAlive(async (_, stream) =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"));
            await stream.WriteAsync(new byte[70_000]);
            await Task.Delay(TimeSpan.FromMinutes(2));
        });
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)], "--Proxy:Timeouts:Response=1s");

        using var response = await proxy.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Truncated, and said so (the connection is aborted), rather than held open until the
        // client gives up (the cancellation below).
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var cut = await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsByteArrayAsync(patience.Token));
        Assert.IsNotAssignableFrom<OperationCanceledException>(cut);

        // The node's failure, though its head was delivered.
        await proxy.AwaitNodeAsync("raw", node =>
        {
            Assert.Equal(1, node.GetProperty("failures").GetInt32());
            Assert.Contains("stalled for 1 s", node.GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_node_that_breaks_off_mid_stream_is_blamed_and_the_access_log_says_the_answer_was_cut()
    {
        // 200 KB of a promised 300 KB (past the 64 KiB buffered part), then the connection closes.
        await using var raw = RawNode.Answering(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n").Concat(new byte[200_000]).ToArray());
        var file = Path.Combine(Path.GetTempPath(), $"proxy-cut-{Guid.NewGuid():N}.json");
        try
        {
            await using (var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)], "--Proxy:AccessLog:Format=json", $"--Proxy:AccessLog:Path={file}"))
            {
                using var response = await proxy.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await Assert.ThrowsAnyAsync<Exception>(() => response.Content.ReadAsByteArrayAsync());

                await proxy.AwaitNodeAsync("raw", node =>
                {
                    Assert.Equal(1, node.GetProperty("failures").GetInt32());
                    Assert.Equal("dropped", node.GetProperty("lastFailure").GetProperty("kind").GetString());
                });
            }

            var line = JsonDocument.Parse(Assert.Single(File.ReadAllLines(file))).RootElement;
            Assert.Equal(200, line.GetProperty("status").GetInt32());
            Assert.Equal("cut", Assert.Single(line.GetProperty("tries").EnumerateArray()).GetProperty("result").GetString());
            Assert.Contains("broke off after", line.GetProperty("cut").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_client_that_leaves_while_its_answer_streams_is_counted_as_499()
    {
        await using var raw = RawNode.KeepAlive(async (_, stream) =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n"));
            for (var i = 0; i < 1000; i++)
            {
                await stream.WriteAsync(new byte[10_000]);
                await Task.Delay(10);
            }
        });
        await using var proxy = await ProxyHarness.StartAsync([("raw", raw.Address)]);

        using (var response = await proxy.Client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead))
        {
            var body = await response.Content.ReadAsStreamAsync();
            await body.ReadExactlyAsync(new byte[100_000]);
        }

        await proxy.AwaitMetricAsync("proxy_requests_total{status=\"499\"} 1");
        Assert.DoesNotContain("proxy_requests_total{status=\"200\"}", await proxy.Debug.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_is_refused_with_405_and_opens_no_circuit()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Circuit:FailureThreshold=2");

        for (var i = 0; i < 5; i++)
        {
            var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n");
            Assert.StartsWith("HTTP/1.1 405", head, StringComparison.Ordinal);
        }

        Assert.All((await proxy.NodesAsync()).Values, n =>
        {
            Assert.Equal("healthy", n.GetProperty("state").GetString());
            Assert.Equal(0, n.GetProperty("failures").GetInt32());
        });
    }

    [Theory]
    [InlineData("10000000000000005")]
    [InlineData("fffffffffffffffff")]
    [InlineData("zz")]
    public async Task A_client_chunk_size_that_is_not_a_size_is_a_400_and_blames_no_node(string size)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!,
            $"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhello\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 400", head, StringComparison.Ordinal);
        Assert.All((await proxy.NodesAsync()).Values, n => Assert.Equal(0, n.GetProperty("failures").GetInt32()));
        Assert.DoesNotContain("status=\"500\"", await proxy.Debug.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_sends_a_body_after_head_never_gives_another_client_that_body()
    {
        await using var node = await PythonXmlRpcNode.StartBodyAfterHeadAsync("head");
        await using var proxy = await ProxyHarness.StartAsync([(node.Name, node.Address)]);
        var wrong = new System.Collections.Concurrent.ConcurrentBag<string>();

        async Task HeadsAsync()
        {
            using var http = new HttpClient { BaseAddress = proxy.Client.BaseAddress };
            for (var i = 0; i < 50; i++)
            {
                using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/h"));
            }
        }

        async Task GetsAsync(int client)
        {
            using var http = new HttpClient { BaseAddress = proxy.Client.BaseAddress };
            for (var i = 0; i < 60; i++)
            {
                var path = $"/c{client}/{i}";
                using var response = await http.GetAsync(path);
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK || body != path)
                {
                    wrong.Add($"{path}: {(int)response.StatusCode} {body}");
                }
            }
        }

        await Task.WhenAll([HeadsAsync(), HeadsAsync(), .. Enumerable.Range(0, 4).Select(GetsAsync)]);

        Assert.Empty(wrong);
    }

    [Fact]
    public async Task A_connection_past_the_cap_is_closed_and_the_debug_listener_still_answers()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Limits:MaxConnections=1");
        using var first = new System.Net.Sockets.TcpClient();
        await first.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
        await first.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        var buffer = new byte[4096];
        Assert.True(await first.GetStream().ReadAsync(buffer) > 0);

        using var second = new System.Net.Sockets.TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var read = 0;
        try
        {
            // The kernel completes the handshake before the proxy accepts; the proxy's reset can
            // reach the client before its connect is reported (the connect fails) or before the
            // request is written (the write fails).
            await second.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
            await second.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            read = await ReadOrResetAsync(second.GetStream(), buffer, timeout.Token);
        }
        catch (IOException)
        {
        }
        catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
        {
        }

        Assert.Equal(0, read);
        Assert.Equal(HttpStatusCode.OK, (await proxy.Debug.GetAsync("/healthz")).StatusCode);

        // Counted, so a refusing proxy shows on a dashboard rather than only in its clients' errors.
        await proxy.AwaitMetricAsync("proxy_connections_refused_total 1");
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_keep_alive_timeout()
    {
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Limits:KeepAliveTimeout=00:00:01");
        using var idle = new System.Net.Sockets.TcpClient();
        await idle.ConnectAsync(proxy.Client.BaseAddress!.Host, proxy.Client.BaseAddress.Port);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        Assert.Equal(0, await ReadOrResetAsync(idle.GetStream(), new byte[16], timeout.Token));
    }

    // 0 when the peer closed the connection (or reset it).
    private static async Task<int> ReadOrResetAsync(System.Net.Sockets.NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [Fact]
    public async Task The_proxys_own_answers_carry_no_internal_headers()
    {
        N1.Overload();
        N2.Overload();
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 503", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Server:", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("X-Forwarded", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Akka", head, StringComparison.OrdinalIgnoreCase);
    }
}

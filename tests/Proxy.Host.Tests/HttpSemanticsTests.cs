using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class HttpSemanticsTests : NodesTest
{
    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("OPTIONS")]
    [InlineData("TRACE")]
    [InlineData("PROPFIND")]
    [InlineData("PURGE")]
    public async Task Every_method_path_and_query_is_forwarded(string method)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        using var request = new HttpRequestMessage(new HttpMethod(method), "/a/b%20c?x=1&y=%2F");
        if (method is "POST" or "PUT" or "PATCH" or "PROPFIND")
        {
            request.Content = new StringContent("payload");
        }

        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(Nodes.SelectMany(n => n.Received));
        Assert.Equal(method, received.Method);
        Assert.Equal("/a/b%20c?x=1&y=%2F", received.PathAndQuery);
        if (request.Content is not null)
        {
            Assert.Equal("payload", Encoding.UTF8.GetString(received.Body));
        }
    }

    [Theory]
    [InlineData("/a%252Fb", "/a%252Fb")]
    [InlineData("/a%3Fb=1", "/a%3Fb=1")]
    [InlineData("/a%23frag", "/a%23frag")]
    [InlineData("/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e/%2e%2e/etc/passwd")]
    [InlineData("/a/../b", "/a/../b")]
    [InlineData("/a/./b//c", "/a/./b//c")]
    [InlineData("/RPC2?x=%20&y=a+b&z=%2F", "/RPC2?x=%20&y=a+b&z=%2F")]
    [InlineData("/%41%42c", "/%41%42c")]
    [InlineData("http://client.example/a%2Fb?q=1", "/a%2Fb?q=1")]
    [InlineData("http://client.example?q=1", "/?q=1")]
    [InlineData("http://client.example", "/")]
    public async Task The_request_target_reaches_the_node_byte_for_byte(string sent, string expected)
    {
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, $"GET {sent} HTTP/1.1\r\nHost: client.example\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        Assert.Equal(expected, Assert.Single(N1.Received).RawTarget);
    }

    [Theory]
    [InlineData("GET /p HTTP/1.1\r\nHost: xn--x\r\n", "xn--x")]
    [InlineData("GET /p HTTP/1.1\r\nHost: xn--bcher-kva.example\r\n", "xn--bcher-kva.example")]
    [InlineData("GET http://xn--bcher-kva.example:8080/p HTTP/1.1\r\nHost: x\r\n", "xn--bcher-kva.example:8080")]
    public async Task A_punycode_host_reaches_the_node_as_sent(string head, string forwardedHost)
    {
        // HttpRequest.Host decodes punycode: an invalid label ("xn--x") threw, a 500, and a valid
        // one reached the node as UTF-8 bytes the client never sent.
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        var answer = await RawHttp.SendAsync(proxy.Client.BaseAddress!, head + "Connection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.Equal(forwardedHost, Assert.Single(N1.Received).Headers["X-Forwarded-Host"]);
    }

    [Fact]
    public async Task An_absolute_form_target_whose_host_differs_from_the_Host_header_is_served_for_the_targets_host()
    {
        // RFC 9112 section 3.2.2: the Host header is ignored and replaced by the target's authority (nginx does so); Kestrel's default is a bare 400.
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, "GET http://api.example/item?q=1 HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        var received = Assert.Single(N1.Received);
        Assert.Equal("/item?q=1", received.RawTarget);
        Assert.Equal("api.example", received.Headers["X-Forwarded-Host"]);
    }

    [Fact]
    public async Task A_header_value_in_utf8_reaches_the_node_as_sent_and_blames_no_node()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        var request = "GET /h HTTP/1.1\r\nHost: x\r\nX-Name: Zoë Ça\r\nConnection: close\r\n\r\n";

        var answer = Encoding.ASCII.GetString(await RawHttp.ExchangeAsync(proxy.Client.BaseAddress!, Encoding.UTF8.GetBytes(request)));

        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.Equal("Zoë Ça", Assert.Single(Nodes.SelectMany(n => n.Received)).Headers["X-Name"]);
        Assert.All((await proxy.NodesAsync()).Values, n => Assert.Equal(0, n.GetProperty("failures").GetInt32()));
    }

    [Fact]
    public async Task The_request_target_follows_the_nodes_path_prefix_as_sent()
    {
        await using var proxy = await ProxyHarness.StartAsync([("n1", N1.Address + "/base")]);

        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!, "GET /a%2Fb/../c?x=%41 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        Assert.Equal("/base/a%2Fb/../c?x=%41", Assert.Single(N1.Received).RawTarget);
    }

    [Fact]
    public async Task Each_request_reaches_its_own_path_when_paths_alternate_on_one_node()
    {
        // The forwarder reuses the target Uri of a repeated path; a changed path must never get a stale one.
        await using var proxy = await ProxyHarness.StartAsync([N1]);
        string[] sent = ["/RPC2", "/RPC2", "/other?q=1", "/RPC2", "/RPC2?q=2", "/other?q=1"];

        foreach (var path in sent)
        {
            using var response = await proxy.Client.PostAsync(path, new StringContent("call"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(sent, N1.Received.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task A_head_request_gets_the_head_without_a_body()
    {
        N1.Handle(ctx =>
        {
            ctx.Response.ContentLength = 5;
            return HttpMethods.IsHead(ctx.Request.Method) ? Task.CompletedTask : ctx.Response.WriteAsync("hello");
        });
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        using var response = await proxy.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(204)]
    [InlineData(304)]
    public async Task Bodyless_statuses_pass_through(int status)
    {
        N1.Handle(ctx =>
        {
            ctx.Response.StatusCode = status;
            ctx.Response.Headers.ETag = "\"v1\"";
            return Task.CompletedTask;
        });
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        using var response = await proxy.Client.GetAsync("/");

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("\"v1\"", response.Headers.ETag?.Tag);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData(1024 * 1024)]
    [InlineData(8 * 1024 * 1024)]
    public async Task A_large_request_body_arrives_intact(int size)
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        var payload = RandomNumberGenerator.GetBytes(size);

        using var response = await proxy.Client.PostAsync("/upload", new ByteArrayContent(payload));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = Assert.Single(Nodes.SelectMany(n => n.Received));
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(received.Body));
    }

    [Fact]
    public async Task A_chunked_request_body_arrives_intact()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Limits:RequestBuffer=4096");
        var payload = RandomNumberGenerator.GetBytes(100_000);
        var content = new StreamContent(new MemoryStream(payload));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(Assert.Single(Nodes.SelectMany(n => n.Received)).Body));
    }

    [Fact]
    public async Task A_4_mib_answer_arrives_whole()
    {
        var payload = RandomNumberGenerator.GetBytes(4 * 1024 * 1024);
        N1.Handle(ctx =>
        {
            ctx.Response.ContentLength = payload.Length;
            return ctx.Response.Body.WriteAsync(payload).AsTask();
        });
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        var body = await proxy.Client.GetByteArrayAsync("/big");

        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(body));
    }

    [Fact]
    public async Task A_chunked_answer_arrives_whole()
    {
        var chunks = Enumerable.Range(0, 200).Select(i => $"chunk-{i};").ToArray();
        N1.Handle(async ctx =>
        {
            foreach (var chunk in chunks)
            {
                await ctx.Response.WriteAsync(chunk);
                await ctx.Response.Body.FlushAsync();
            }
        });
        await using var proxy = await ProxyHarness.StartAsync([N1], "--Proxy:Limits:ResponseBuffer=512");

        using var response = await proxy.Client.GetAsync("/stream");

        Assert.Equal(string.Concat(chunks), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Hop_by_hop_headers_are_dropped_and_forwarding_headers_set()
    {
        N1.Handle(ctx =>
        {
            ctx.Response.Headers["Keep-Alive"] = "timeout=99";
            ctx.Response.Headers["X-Node-Private"] = "secret";
            ctx.Response.Headers.Connection = "X-Node-Private";
            ctx.Response.Headers["X-Node-Public"] = "visible";
            return ctx.Response.WriteAsync("ok");
        });
        await using var proxy = await ProxyHarness.StartAsync([N1]);

        // Raw bytes, so the client's hop-by-hop headers reach the proxy exactly as written. (Kestrel
        // reduces a Connection header that also says keep-alive or close to that one token.)
        var head = await RawHttp.SendAsync(proxy.Client.BaseAddress!,
            "GET /h HTTP/1.1\r\n"
            + $"Host: {proxy.Client.BaseAddress!.Authority}\r\n"
            + "Connection: X-Client-Private\r\n"
            + "X-Client-Private: secret\r\n"
            + "Keep-Alive: timeout=5\r\n"
            + "Proxy-Connection: keep-alive\r\n"
            + "X-Forwarded-For: 10.1.2.3\r\n"
            + "X-Custom: kept\r\n"
            + "\r\n");

        var received = Assert.Single(N1.Received);
        Assert.False(received.Headers.ContainsKey("X-Client-Private"));
        Assert.False(received.Headers.ContainsKey("Keep-Alive"));
        Assert.False(received.Headers.ContainsKey("Proxy-Connection"));
        Assert.Equal("kept", received.Headers["X-Custom"]);
        Assert.Equal("10.1.2.3, 127.0.0.1", received.Headers["X-Forwarded-For"]);
        Assert.Equal("http", received.Headers["X-Forwarded-Proto"]);
        Assert.Equal(proxy.Client.BaseAddress!.Authority, received.Headers["X-Forwarded-Host"]);

        Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
        Assert.DoesNotContain("X-Node-Private", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("timeout=99", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-Node-Public: visible", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_debug_api_is_not_served_on_the_client_listener()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Client.GetAsync("/debug/nodes");

        // The path is proxied to a node like any other; the proxy's own state never leaks here.
        Assert.DoesNotContain("configuredWeight", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("/debug/nodes", Assert.Single(Nodes.SelectMany(n => n.Received)).PathAndQuery);
    }
}

using System.IO.Compression;
using System.Net;
using System.Text;
using Akka.Actor;
using Microsoft.AspNetCore.Http;
using Proxy.Actors.Classification;
using Proxy.Host.Classification;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>
/// The default rule through the real host: the overload fault as real servers write it is caught,
/// whatever its encoding; what only looks like it reaches the client byte for byte and marks nothing.
/// </summary>
public sealed class XmlRpcDetectionTests : NodesTest
{
    public static TheoryData<string, string?> OverloadTable => new()
    {
        { "founding-i4-compact.xml", null },
        { "python-xmlrpc-client.xml", null },
        { "go-faultstring-first.xml", null },
        { "dotnet-xmlrpcnet-bom-crlf.xml", null },
        { "python-xmlrpc-client.xml", "gzip" },
        { "python-long-faultstring.xml", null },
        { "python-long-faultstring.xml", "gzip" },
        { "utf16le-bom.xml", null },
        { "php-xmlrpc-epi.xml", "deflate" },
        { "apache-xmlrpc-java.xml", "br" },
    };

    [Theory]
    [MemberData(nameof(OverloadTable))]
    public async Task The_overload_fault_is_caught_however_the_node_writes_it(string fault, string? contentEncoding)
    {
        N1.Serve(Encode(XmlRpcCorpus.Fault(fault), contentEncoding), contentEncoding: contentEncoding);
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        // Two calls: whichever node the rotation picks first, n1 answers one of them with the fault.
        for (var i = 0; i < 2; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("<string>n2</string>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var n1 = (await proxy.NodesAsync())["n1"];
        Assert.Equal("overloaded", n1.GetProperty("state").GetString());
        Assert.Equal(1, n1.GetProperty("overloads").GetInt32());
    }

    public static TheoryData<string> FaultsWhoseFaultTagIsPastTheResponseBuffer => new()
    {
        "prolog",
        "root-tag",
        "gzip-comment",
    };

    [Theory]
    [MemberData(nameof(FaultsWhoseFaultTagIsPastTheResponseBuffer))]
    public async Task A_fault_whose_fault_tag_comes_after_the_response_buffer_is_still_caught(string shape)
    {
        var fault = Encoding.UTF8.GetString(XmlRpcCorpus.Fault("founding-i4-compact.xml"));
        byte[] body = shape switch
        {
            "prolog" => Encoding.UTF8.GetBytes(fault.Replace("?>", "?>" + new string('\n', 70_000), StringComparison.Ordinal)),
            "root-tag" => Encoding.UTF8.GetBytes(fault.Replace("<methodResponse>", "<methodResponse" + string.Concat(Enumerable.Range(0, 5000).Select(i => $" xmlns:n{i}=\"urn:{i}\"")) + ">", StringComparison.Ordinal)),
            _ => GzipWithComment(Encoding.UTF8.GetBytes(fault), 100_000),
        };
        N1.Serve(body, contentEncoding: shape == "gzip-comment" ? "gzip" : null);
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        for (var i = 0; i < 2; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Contains("<string>n2</string>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal("overloaded", (await proxy.NodesAsync())["n1"].GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("no-trailer")]
    [InlineData("trailing-garbage")]
    [InlineData("charset-disagrees")]
    public async Task A_fault_the_client_could_not_read_as_such_is_delivered_and_marks_nothing(string shape)
    {
        var fault = XmlRpcCorpus.Fault("founding-i4-compact.xml");
        var gzip = Encode(fault, "gzip");
        var (body, encoding, type) = shape switch
        {
            "no-trailer" => (gzip[..^8], "gzip", "text/xml"),
            "trailing-garbage" => ([.. gzip, .. "GARBAGE"u8.ToArray()], "gzip", "text/xml"),
            _ => (fault, null, "text/xml; charset=utf-16"),
        };
        N1.Serve(body, type, encoding);
        N2.Serve(body, type, encoding);
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(body, await response.Content.ReadAsByteArrayAsync());
        await AssertNothingMarkedAsync(proxy, hits: 1);
    }

    [Theory]
    [MemberData(nameof(XmlRpcCorpus.Lookalikes), MemberType = typeof(XmlRpcCorpus))]
    public async Task A_lookalike_is_delivered_byte_for_byte_and_marks_nothing(string name)
    {
        var lookalike = XmlRpcCorpus.Lookalike(name);
        N1.Serve(lookalike);
        N2.Serve(lookalike);
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(lookalike, await response.Content.ReadAsByteArrayAsync());
        await AssertNothingMarkedAsync(proxy, hits: 1);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("text/html; charset=utf-8")]
    public async Task An_echo_that_is_not_xml_is_never_judged_as_xml_rpc(string contentType)
    {
        // A node that reflects what the client sent: the client cannot forge the overload mark.
        var echoed = Encoding.UTF8.GetBytes(TestNode.OverloadFault);
        N1.Serve(echoed, contentType);
        N2.Serve(echoed, contentType);
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Client.PostAsync("/echo", new StringContent(TestNode.OverloadFault));

        Assert.Equal(echoed, await response.Content.ReadAsByteArrayAsync());
        await AssertNothingMarkedAsync(proxy, hits: 1);
    }

    [Fact]
    public async Task A_compressed_answer_reaches_the_client_as_the_node_encoded_it()
    {
        var success = Encode(Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><methodResponse><params><param><value><string>" + new string('x', 5000) + "</string></value></param></params></methodResponse>"), "gzip");
        N1.Serve(success, contentEncoding: "gzip");
        N2.Serve(success, contentEncoding: "gzip");
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal("gzip", Assert.Single(response.Content.Headers.ContentEncoding));
        Assert.Equal(success, await response.Content.ReadAsByteArrayAsync());
        await AssertNothingMarkedAsync(proxy, hits: 1);
    }

    [Fact]
    public async Task A_decompression_bomb_is_delivered_untouched_and_marks_nothing()
    {
        // 64 MiB of whitespace after the start of a fault: judged on what fits the fault buffer, never inflated whole.
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write("<?xml version=\"1.0\"?><methodResponse><fault>"u8);
            var spaces = new byte[1024 * 1024];
            spaces.AsSpan().Fill((byte)' ');
            for (var i = 0; i < 64; i++)
            {
                gzip.Write(spaces);
            }

            gzip.Write(XmlRpcCorpus.Fault("founding-i4-compact.xml").AsSpan(43));
        }

        var bomb = compressed.ToArray();
        N1.Serve(bomb, contentEncoding: "gzip");
        N2.Serve(bomb, contentEncoding: "gzip");
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(bomb, await response.Content.ReadAsByteArrayAsync());
        await AssertNothingMarkedAsync(proxy, hits: 1);
    }

    [Fact]
    public async Task A_fault_larger_than_the_fault_buffer_is_delivered_rather_than_guessed_at()
    {
        var fault = XmlRpcCorpus.Fault("python-long-faultstring.xml");
        N1.Serve(fault);
        N2.Serve(fault);
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Limits:ResponseBuffer=4096", "--Proxy:Limits:FaultBuffer=65536");

        using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());

        Assert.Equal(fault, await response.Content.ReadAsByteArrayAsync());
        await AssertNothingMarkedAsync(proxy, hits: 1);
    }

    [Fact]
    public async Task A_client_of_python_xmlrpc_never_sees_the_fault_of_a_python_xmlrpc_node()
    {
        await using var busy = await PythonXmlRpcNode.StartAsync("busy");
        await using var calm = await PythonXmlRpcNode.StartAsync("calm");
        await busy.OverloadAsync(faultLength: 20);
        await using var proxy = await ProxyHarness.StartAsync([(busy.Name, busy.Address), (calm.Name, calm.Address)]);

        var results = await PythonXmlRpcNode.CallAsync(proxy.Client.BaseAddress + "RPC2", "ping", 6);

        Assert.All(results, r => Assert.Equal("calm", r.GetProperty("result").GetString()));
        Assert.Equal("overloaded", (await proxy.NodesAsync())["busy"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_gzip_encoded_fault_of_a_python_xmlrpc_node_is_caught()
    {
        await using var busy = await PythonXmlRpcNode.StartAsync("busy");
        await using var calm = await PythonXmlRpcNode.StartAsync("calm");
        // Over xmlrpc.server's 1,400-byte threshold: written gzip-encoded for xmlrpc.client.
        await busy.OverloadAsync(faultLength: 5000);
        await using var proxy = await ProxyHarness.StartAsync([(busy.Name, busy.Address), (calm.Name, calm.Address)]);

        var results = await PythonXmlRpcNode.CallAsync(proxy.Client.BaseAddress + "RPC2", "long_answer", 4, 3000);

        Assert.All(results, r => Assert.StartsWith("calm:", r.GetProperty("result").GetString(), StringComparison.Ordinal));
        var nodes = await proxy.NodesAsync();
        Assert.Equal("overloaded", nodes["busy"].GetProperty("state").GetString());
        Assert.Equal("healthy", nodes["calm"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task Python_nodes_that_close_every_connection_serve_concurrent_clients_without_a_502()
    {
        // xmlrpc.server answers HTTP/1.0 and closes; a pooled connection reused after that close was a
        // 502 for about a third of the calls when several clients called at once.
        await using var one = await PythonXmlRpcNode.StartAsync("one");
        await using var two = await PythonXmlRpcNode.StartAsync("two");
        await using var proxy = await ProxyHarness.StartAsync([(one.Name, one.Address), (two.Name, two.Address)]);
        var url = proxy.Client.BaseAddress + "RPC2";
        await PythonXmlRpcNode.CallAsync(url, "ping", 2);

        var clients = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => PythonXmlRpcNode.CallAsync(url, "long_answer", 20, 3000)));

        Assert.All(clients.SelectMany(c => c), r => Assert.True(r.TryGetProperty("result", out _), r.ToString()));
    }

    [Theory]
    [InlineData("utf8")]
    [InlineData("latin-1")]
    [InlineData("cp1251")]
    public async Task A_python_node_that_names_its_encoding_in_python_spelling_never_leaks_its_overload_fault(string encoding)
    {
        // SimpleXMLRPCServer(encoding="utf8") declares encoding='utf8', a name only Python's codecs
        // know; Python's client still reads the fault, so the proxy must too.
        await using var busy = await PythonXmlRpcNode.StartEncodedAsync("busy", encoding);
        await using var calm = await PythonXmlRpcNode.StartEncodedAsync("calm", encoding);
        await busy.OverloadAsync();
        await using var proxy = await ProxyHarness.StartAsync([(busy.Name, busy.Address), (calm.Name, calm.Address)]);

        var results = await PythonXmlRpcNode.CallAsync(proxy.Client.BaseAddress + "RPC2", "ping", 4);

        Assert.All(results, r => Assert.Equal("calm", r.GetProperty("result").GetString()));
        var nodes = await proxy.NodesAsync();
        Assert.Equal("overloaded", nodes["busy"].GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_fresh_proxy_serves_a_first_burst_of_clients_to_python_nodes_without_a_502()
    {
        // Before any node has answered, the proxy cannot know that xmlrpc.server closes every
        // connection; a burst of first calls queued on pooled connections the node then closed.
        await using var one = await PythonXmlRpcNode.StartAsync("one");
        await using var two = await PythonXmlRpcNode.StartAsync("two");
        await using var proxy = await ProxyHarness.StartAsync([(one.Name, one.Address), (two.Name, two.Address)]);

        var results = await PythonXmlRpcNode.CallAtOnceAsync(proxy.Client.BaseAddress + "RPC2", 64, "long_answer", 256, 3000);

        Assert.All(results, r => Assert.True(r.TryGetProperty("result", out _), r.ToString()));
        var nodes = await proxy.NodesAsync();
        Assert.All(nodes.Values, n => Assert.Equal("healthy", n.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task A_python_fault_that_only_mentions_the_overload_reaches_the_python_client()
    {
        await using var one = await PythonXmlRpcNode.StartAsync("one");
        await using var two = await PythonXmlRpcNode.StartAsync("two");
        await using var proxy = await ProxyHarness.StartAsync([(one.Name, one.Address), (two.Name, two.Address)]);

        var results = await PythonXmlRpcNode.CallAsync(proxy.Client.BaseAddress + "RPC2", "fail", 2);

        Assert.All(results, r => Assert.Equal(4, r.GetProperty("fault").GetInt32()));
        var nodes = await proxy.NodesAsync();
        Assert.All(nodes.Values, n => Assert.Equal("healthy", n.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task A_success_answer_never_reaches_the_rule_actor_and_a_fault_does()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        for (var i = 0; i < 4; i++)
        {
            using var response = await proxy.Client.PostAsync("/RPC2", XmlRpcCall());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(0, await EvaluatedAsync(proxy));

        N1.Overload();
        N2.Overload();
        using (await proxy.Client.PostAsync("/RPC2", XmlRpcCall()))
        {
        }

        Assert.Equal(2, await EvaluatedAsync(proxy));
    }

    [Fact]
    public async Task An_answer_slow_to_judge_holds_up_only_itself()
    {
        using var gate = new ManualResetEventSlim();
        using var entered = new SemaphoreSlim(0);
        N1.Handle(ctx => ctx.Response.WriteAsync(ctx.Request.Path == "/slow" ? "slow" : "fast"));
        await using var proxy = await ProxyHarness.StartAsync(
            [Nodes[0]],
            builder => builder.AddClassifier("Gate", rule => Props.Create(() => new GateClassifier(rule.Name, rule.Verdict, gate, entered))),
            "--Proxy:Classifiers:0:Name=gate", "--Proxy:Classifiers:0:Type=Gate", "--Proxy:Classifiers:0:Verdict=Overloaded");

        var slow = proxy.Client.GetAsync("/slow");
        Assert.True(await entered.WaitAsync(TimeSpan.FromSeconds(30)), "the slow answer never reached its rule");

        // The node's rule is stuck on the slow answer; the next answer of the same node is judged all the same.
        using (var fast = await proxy.Client.GetAsync("/fast"))
        {
            Assert.Equal("fast", await fast.Content.ReadAsStringAsync());
        }

        Assert.False(slow.IsCompleted);
        gate.Set();
        using var released = await slow;
        Assert.Equal("slow", await released.Content.ReadAsStringAsync());
    }

    // Answers judged by the default rule's actors, over every node and lane (/debug/actors).
    private static async Task<int> EvaluatedAsync(ProxyHarness proxy)
    {
        var actors = await proxy.Debug.GetStringAsync("/debug/actors");
        return System.Text.RegularExpressions.Regex.Matches(actors, "rule=xmlrpc-overload [^\"]*evaluated=(\\d+)")
            .Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task AssertNothingMarkedAsync(ProxyHarness proxy, int hits)
    {
        var nodes = await proxy.NodesAsync();
        Assert.All(nodes.Values, n =>
        {
            Assert.Equal("healthy", n.GetProperty("state").GetString());
            Assert.Equal(0, n.GetProperty("overloads").GetInt32());
        });
        Assert.Equal(hits, nodes.Values.Sum(n => n.GetProperty("requests").GetInt32()));
    }

    // A gzip member whose header carries a long comment (FCOMMENT): nothing decodes from the first buffer.
    private static byte[] GzipWithComment(byte[] body, int commentLength)
    {
        var plain = Encode(body, "gzip");
        var comment = Enumerable.Repeat((byte)'c', commentLength).Append((byte)0).ToArray();
        var header = plain[..10];
        header[3] |= 0x10;
        return [.. header, .. comment, .. plain[10..]];
    }

    private static byte[] Encode(byte[] body, string? contentEncoding)
    {
        if (contentEncoding is null)
        {
            return body;
        }

        using var encoded = new MemoryStream();
        using (Stream encoder = contentEncoding switch
        {
            "gzip" => new GZipStream(encoded, CompressionLevel.Optimal, leaveOpen: true),
            "deflate" => new ZLibStream(encoded, CompressionLevel.Optimal, leaveOpen: true),
            "br" => new BrotliStream(encoded, CompressionLevel.Optimal, leaveOpen: true),
            _ => throw new ArgumentOutOfRangeException(nameof(contentEncoding)),
        })
        {
            encoder.Write(body);
        }

        return encoded.ToArray();
    }

    // A rule stuck on one answer (as a backtracking regex on a crafted body, or a slow custom rule):
    // it holds the answer whose body is "slow" until the test opens the gate.
    private sealed class GateClassifier(string name, Verdict verdict, ManualResetEventSlim gate, SemaphoreSlim entered) : ClassifierActor(name, verdict)
    {
        protected override bool Matches(IAnswerView answer)
        {
            if (answer.Content.Span.SequenceEqual("slow"u8))
            {
                entered.Release();
                gate.Wait(TimeSpan.FromSeconds(30));
            }

            return false;
        }
    }
}

using System.Collections;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Proxy.Actors.Telemetry;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>
/// W3C trace context through the proxy and the spans it records (ADR 0019). The first node is
/// overloaded in each test, so a request is one trace of two tries: n1's overload, n2's answer.
/// </summary>
public sealed class TracingTests : NodesTest, IDisposable
{
    private const string ClientTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string ClientSpanId = "00f067aa0ba902b7";
    private const string SampledParent = $"00-{ClientTraceId}-{ClientSpanId}-01";

    private readonly string _directory = Directory.CreateTempSubdirectory("proxy-tracing-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Each_try_sends_its_node_the_clients_trace_with_a_span_id_of_its_own()
    {
        N1.Overload();
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await SendAsync(proxy.Client, SampledParent, "congo=t61rcWkgMzE");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var first = TraceParent(N1);
        var second = TraceParent(N2);
        Assert.Equal(ClientTraceId, first.TraceId);
        Assert.Equal(ClientTraceId, second.TraceId);
        Assert.NotEqual(ClientSpanId, first.SpanId);
        Assert.NotEqual(ClientSpanId, second.SpanId);
        Assert.NotEqual(first.SpanId, second.SpanId);
        // Nothing records here, so the client's sampling decision is passed on as it came.
        Assert.Equal("01", first.Flags);
        Assert.Equal("01", second.Flags);
        Assert.Equal("congo=t61rcWkgMzE", N1.Received.Single().Headers["tracestate"]);
        Assert.Equal("congo=t61rcWkgMzE", N2.Received.Single().Headers["tracestate"]);
    }

    [Fact]
    public async Task Tracestate_sent_as_several_lines_reaches_the_node_as_one_list()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes);
        var body = "<?xml version=\"1.0\"?><methodCall><methodName>ping</methodName></methodCall>";

        var answer = await RawHttp.SendAsync(
            proxy.Client.BaseAddress!,
            $"POST /RPC2 HTTP/1.1\r\nHost: proxy\r\ntraceparent: {SampledParent}\r\ntracestate: congo=t61rcWkgMzE\r\ntracestate: rojo=00f067aa0ba902b7\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");

        Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.Equal("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", N1.Received.Single().Headers["tracestate"]);
        Assert.Equal(ClientTraceId, TraceParent(N1).TraceId);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not a traceparent")]
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")]
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")]
    public async Task Without_a_valid_traceparent_a_request_starts_a_new_trace_shared_by_its_tries(string? traceparent)
    {
        N1.Overload();
        await using var proxy = await ProxyHarness.StartAsync(Nodes);

        using var response = await SendAsync(proxy.Client, traceparent, "congo=t61rcWkgMzE");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var first = TraceParent(N1);
        var second = TraceParent(N2);
        Assert.Matches("^[0-9a-f]{32}$", first.TraceId);
        Assert.NotEqual(new string('0', 32), first.TraceId);
        Assert.NotEqual(ClientTraceId, first.TraceId);
        Assert.Equal(first.TraceId, second.TraceId);
        Assert.NotEqual(first.SpanId, second.SpanId);
        Assert.Equal("00", first.Flags);
        // A tracestate belongs to the traceparent it came with: without one, it is not passed on.
        Assert.False(N1.Received.Single().Headers.ContainsKey("tracestate"));
    }

    [Fact]
    public async Task Turned_off_the_clients_trace_headers_reach_the_node_untouched()
    {
        await using var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:Tracing:Enabled=false");

        using var response = await SendAsync(proxy.Client, SampledParent, "congo=t61rcWkgMzE");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var received = N1.Received.Single().Headers;
        Assert.Equal(SampledParent, received["traceparent"]);
        Assert.Equal("congo=t61rcWkgMzE", received["tracestate"]);
    }

    [Fact]
    public async Task Recorded_spans_are_a_server_span_and_a_child_per_try_with_node_verdict_rule_and_status()
    {
        N1.Overload();
        var exported = new LockedList<Activity>();
        await using var proxy = await StartRecordingAsync(exported);

        using var response = await SendAsync(proxy.Client, SampledParent, null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The server span ends once the answer is written, which the client may see first.
        Activity[] spans = [];
        await Eventually.AssertAsync(() =>
        {
            spans = exported.Snapshot().Where(a => a.TraceId.ToHexString() == ClientTraceId).ToArray();
            Assert.Equal(3, spans.Length);
            return Task.CompletedTask;
        });

        var server = spans.Single(s => s.Kind == ActivityKind.Server);
        Assert.Equal(ClientSpanId, server.ParentSpanId.ToHexString());
        Assert.Equal("POST", server.DisplayName);
        Assert.Equal("POST", server.GetTagItem("http.request.method"));
        Assert.Equal("/RPC2", server.GetTagItem("url.path"));
        Assert.Equal("http", server.GetTagItem("url.scheme"));
        Assert.Equal(200, server.GetTagItem("http.response.status_code"));
        Assert.Equal(1, server.GetTagItem("proxy.redispatch_count"));
        Assert.Equal(new[] { "n1:overloaded:xmlrpc-overload", "n2:answered" }, (string[])server.GetTagItem("proxy.tries")!);
        Assert.Equal(ActivityStatusCode.Unset, server.Status);

        var tries = spans.Where(s => s.Kind == ActivityKind.Client).OrderBy(s => s.StartTimeUtc).ToArray();
        Assert.All(tries, t => Assert.Equal(server.SpanId, t.ParentSpanId));
        var (overloaded, answered) = (tries[0], tries[1]);
        Assert.Equal("n1", overloaded.GetTagItem("proxy.node"));
        Assert.Equal("overloaded", overloaded.GetTagItem("proxy.verdict"));
        Assert.Equal("xmlrpc-overload", overloaded.GetTagItem("proxy.classifier.rule"));
        Assert.Equal(200, overloaded.GetTagItem("http.response.status_code"));
        Assert.Equal("overloaded", overloaded.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, overloaded.Status);
        Assert.Null(overloaded.GetTagItem("http.request.resend_count"));
        Assert.Equal("127.0.0.1", overloaded.GetTagItem("server.address"));
        Assert.Equal(new Uri(N1.Address).Port, overloaded.GetTagItem("server.port"));
        Assert.Equal(N1.Address.TrimEnd('/') + "/RPC2", overloaded.GetTagItem("url.full"));

        Assert.Equal("n2", answered.GetTagItem("proxy.node"));
        Assert.Equal("deliver", answered.GetTagItem("proxy.verdict"));
        Assert.Equal(1, answered.GetTagItem("http.request.resend_count"));
        Assert.Equal(ActivityStatusCode.Unset, answered.Status);

        // Each node was sent the span id of its own try.
        Assert.Equal($"00-{ClientTraceId}-{overloaded.SpanId.ToHexString()}-01", N1.Received.Single().Headers["traceparent"]);
        Assert.Equal($"00-{ClientTraceId}-{answered.SpanId.ToHexString()}-01", N2.Received.Single().Headers["traceparent"]);
    }

    [Fact]
    public async Task Under_concurrent_load_every_try_span_ends_before_its_request_span()
    {
        var exported = new LockedList<Activity>();
        await using var proxy = await StartRecordingAsync(exported);

        // Most answers reach the client without a verdict to wait for (ADR 0007, ninth pass): the
        // try's span must still have ended by the time its request's span does.
        const int Requests = 400;
        var traceId = ActivityTraceId.CreateRandom();
        using var gate = new SemaphoreSlim(32);
        await Task.WhenAll(Enumerable.Range(0, Requests).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                // One trace for the test: other tests' proxies in this process record into the same exporter.
                using var response = await SendAsync(proxy.Client, $"00-{traceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01", null);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            finally
            {
                gate.Release();
            }
        }));

        Activity[] servers = [];
        await Eventually.AssertAsync(() =>
        {
            servers = exported.Snapshot().Where(a => a.Kind == ActivityKind.Server && a.TraceId == traceId).ToArray();
            Assert.Equal(Requests, servers.Length);
            return Task.CompletedTask;
        });

        var ends = servers.ToDictionary(s => s.SpanId, s => s.StartTimeUtc + s.Duration);
        var tries = exported.Snapshot().Where(a => a.Kind == ActivityKind.Client && a.TraceId == traceId).ToArray();
        Assert.Equal(Requests, tries.Length);
        Assert.All(tries, t => Assert.True(
            t.StartTimeUtc + t.Duration <= ends[t.ParentSpanId],
            $"the try span of {t.GetTagItem("proxy.node")} ended {(t.StartTimeUtc + t.Duration - ends[t.ParentSpanId]).TotalMilliseconds} ms after its request span"));
    }

    [Fact]
    public async Task A_refusal_is_an_error_span_with_the_reason()
    {
        N1.Overload();
        N2.Overload();
        var exported = new LockedList<Activity>();
        await using var proxy = await StartRecordingAsync(exported);

        using var response = await SendAsync(proxy.Client, SampledParent, null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);

        await Eventually.AssertAsync(() =>
        {
            var server = exported.Snapshot().Single(a => a.TraceId.ToHexString() == ClientTraceId && a.Kind == ActivityKind.Server);
            Assert.Equal(503, server.GetTagItem("http.response.status_code"));
            Assert.Equal("503", server.GetTagItem("error.type"));
            Assert.Equal(ActivityStatusCode.Error, server.Status);
            Assert.Equal("all tried nodes are overloaded", server.StatusDescription);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task The_access_log_and_the_debug_listener_name_each_requests_trace()
    {
        N1.Overload();
        var json = Path.Combine(_directory, "access.json");
        await using (var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:AccessLog:Format=json", $"--Proxy:AccessLog:Path={json}"))
        {
            using var redispatched = await SendAsync(proxy.Client, SampledParent, null);
            using var direct = await SendAsync(proxy.Client, null, null);

            var recent = await proxy.Debug.GetFromJsonAsync<JsonElement>("/debug/redispatches");
            var entry = Assert.Single(recent.GetProperty("redispatches").EnumerateArray());
            Assert.Equal(ClientTraceId, entry.GetProperty("traceId").GetString());
            Assert.Equal(200, entry.GetProperty("status").GetInt32());
            Assert.Equal("/RPC2", entry.GetProperty("target").GetString());
            Assert.Equal(["n1:overloaded:xmlrpc-overload", "n2:answered"], entry.GetProperty("tries").EnumerateArray().Select(t => $"{t.GetProperty("node").GetString()}:{t.GetProperty("result").GetString()}"));
        }

        var lines = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.Equal(ClientTraceId, lines[0].GetProperty("traceId").GetString());
        // The second request started a trace of its own: the one its node was sent.
        Assert.Equal(TraceParent(N2, last: true).TraceId, lines[1].GetProperty("traceId").GetString());

        var text = Path.Combine(_directory, "access.log");
        await using (var proxy = await ProxyHarness.StartAsync(Nodes, $"--Proxy:AccessLog:Path={text}"))
        {
            using var response = await SendAsync(proxy.Client, SampledParent, null);
        }

        Assert.EndsWith($" trace={ClientTraceId}", File.ReadAllLines(text).Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_published_host_exports_its_spans_to_an_otlp_http_collector()
    {
        N1.Overload();
        await using var collector = await OtlpReceiver.StartAsync();
        await using var proxy = ProxyProcess.Start(
            new Dictionary<string, string> { ["OTEL_BSP_SCHEDULE_DELAY"] = "100" },
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={N2.Address}",
            $"--Proxy:Tracing:OtlpEndpoint={collector.Endpoint}", "--Proxy:Tracing:ServiceName=proxy-edge");
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };

        using var response = await SendAsync(client, SampledParent, null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        ReceivedSpan[] spans = [];
        await Eventually.AssertAsync(
            () =>
            {
                spans = collector.Spans.Where(s => s.TraceId == ClientTraceId).ToArray();
                Assert.Equal(3, spans.Length);
                return Task.CompletedTask;
            },
            TimeSpan.FromSeconds(30));

        Assert.All(collector.ContentTypes, type => Assert.Equal("application/x-protobuf", type));
        Assert.All(spans, s => Assert.Equal("proxy-edge", s.Service));
        var server = spans.Single(s => s.Kind == ReceivedSpan.ServerKind);
        Assert.Equal(ClientSpanId, server.ParentSpanId);
        Assert.Equal(200L, server.Attributes["http.response.status_code"]);
        Assert.Equal(1L, server.Attributes["proxy.redispatch_count"]);
        var tries = spans.Where(s => s.Kind == ReceivedSpan.ClientKind).ToDictionary(s => (string)s.Attributes["proxy.node"]);
        Assert.All(tries.Values, t => Assert.Equal(server.SpanId, t.ParentSpanId));
        Assert.Equal("overloaded", tries["n1"].Attributes["proxy.verdict"]);
        Assert.Equal("xmlrpc-overload", tries["n1"].Attributes["proxy.classifier.rule"]);
        Assert.Equal(ReceivedSpan.ErrorStatus, tries["n1"].StatusCode);
        Assert.Equal("deliver", tries["n2"].Attributes["proxy.verdict"]);
        Assert.Equal(1L, tries["n2"].Attributes["http.request.resend_count"]);
        Assert.Equal($"00-{ClientTraceId}-{tries["n1"].SpanId}-01", N1.Received.Single().Headers["traceparent"]);
        Assert.Equal($"00-{ClientTraceId}-{tries["n2"].SpanId}-01", N2.Received.Single().Headers["traceparent"]);
    }

    [Fact]
    public async Task A_collector_that_is_down_is_named_in_the_log_and_requests_are_served_until_it_is_back()
    {
        var port = FreePort.Next();
        await using var proxy = ProxyProcess.Start(
            new Dictionary<string, string> { ["OTEL_BSP_SCHEDULE_DELAY"] = "100" },
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", $"--Proxy:Tracing:OtlpEndpoint=http://127.0.0.1:{port}");
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };

        using (var response = await SendAsync(client, SampledParent, null))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await proxy.WaitForOutputAsync($"Could not export spans to the OTLP collector http://127.0.0.1:{port}/v1/traces");

        await using var collector = await OtlpReceiver.StartAsync(port);
        using (var response = await SendAsync(client, SampledParent, null))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await proxy.WaitForOutputAsync($"Exporting spans to the OTLP collector http://127.0.0.1:{port}/v1/traces again");
        await Eventually.AssertAsync(() =>
        {
            Assert.Contains(collector.Spans, s => s.TraceId == ClientTraceId);
            return Task.CompletedTask;
        });
    }

    [Theory]
    [InlineData("--Proxy:Tracing:SampleRatio=1.5", "Proxy:Tracing:SampleRatio")]
    [InlineData("--Proxy:Tracing:SampleRatio=half", "Proxy:Tracing:SampleRatio")]
    [InlineData("--Proxy:Tracing:OtlpEndpoint=collector:4318", "Proxy:Tracing:OtlpEndpoint")]
    [InlineData("--Proxy:Tracing:OtlpProtocol=thrift", "Proxy:Tracing:OtlpProtocol")]
    [InlineData("--Proxy:Tracing:Enabled=sometimes", "Proxy:Tracing:Enabled")]
    [InlineData("--Proxy:Tracing:OtlpEndPont=http://collector:4318", "Proxy:Tracing:OtlpEndPont")]
    public void A_tracing_setting_it_cannot_use_stops_start_up_naming_it(string setting, string key)
    {
        var ex = Assert.Throws<Configuration.ProxyConfigurationException>(() => Configuration.ProxySettingsFactory.Create(
            new ConfigurationBuilder().AddCommandLine(["--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", setting]).Build()));

        Assert.Equal(key, ex.Key);
    }

    [Fact]
    public void An_otlp_http_collector_named_by_its_origin_is_sent_to_v1_traces()
    {
        var settings = Configuration.ProxySettingsFactory.Create(new ConfigurationBuilder().AddCommandLine(
            ["--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", "--Proxy:Tracing:OtlpEndpoint=http://collector:4318", "--Proxy:Tracing:SampleRatio=0.25"]).Build());

        Assert.Equal(new Uri("http://collector:4318/v1/traces"), settings.Tracing.OtlpEndpoint);
        Assert.Equal(0.25, settings.Tracing.SampleRatio);
    }

    // The proxy with the OpenTelemetry SDK recording its spans into exported (every span of the
    // process's "Proxy" source: tests pick theirs by trace id).
    private Task<ProxyHarness> StartRecordingAsync(LockedList<Activity> exported) =>
        ProxyHarness.StartAsync(Nodes, builder => builder.Services.AddOpenTelemetry().WithTracing(t => t.AddSource(ProxyTracing.SourceName).AddInMemoryExporter(exported)));

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string? traceparent, string? tracestate)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/RPC2") { Content = XmlRpcCall() };
        if (traceparent is not null)
        {
            request.Headers.TryAddWithoutValidation("traceparent", traceparent);
        }

        if (tracestate is not null)
        {
            request.Headers.TryAddWithoutValidation("tracestate", tracestate);
        }

        return await client.SendAsync(request);
    }

    private static (string TraceId, string SpanId, string Flags) TraceParent(TestNode node, bool last = false)
    {
        var received = last ? node.Received.Last() : node.Received.Single();
        var parts = received.Headers["traceparent"].Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal("00", parts[0]);
        Assert.Matches("^[0-9a-f]{16}$", parts[2]);
        return (parts[1], parts[2], parts[3]);
    }

    /// <summary>The in-memory exporter's collection, safe to read while spans are being exported.</summary>
    private sealed class LockedList<T> : ICollection<T>
    {
        private readonly List<T> _items = [];

        public int Count
        {
            get
            {
                lock (_items)
                {
                    return _items.Count;
                }
            }
        }

        public bool IsReadOnly => false;

        public T[] Snapshot()
        {
            lock (_items)
            {
                return [.. _items];
            }
        }

        public void Add(T item)
        {
            lock (_items)
            {
                _items.Add(item);
            }
        }

        public void Clear()
        {
            lock (_items)
            {
                _items.Clear();
            }
        }

        public bool Contains(T item) => Snapshot().Contains(item);

        public void CopyTo(T[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

        public bool Remove(T item)
        {
            lock (_items)
            {
                return _items.Remove(item);
            }
        }

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Snapshot()).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

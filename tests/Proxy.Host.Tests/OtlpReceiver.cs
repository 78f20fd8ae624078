using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Proxy.Testing;

namespace Proxy.Host.Tests;

/// <summary>One span as an OTLP collector received it.</summary>
public sealed record ReceivedSpan(
    string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, int StatusCode, string Service, IReadOnlyDictionary<string, object> Attributes)
{
    public const int ServerKind = 2;
    public const int ClientKind = 3;
    public const int ErrorStatus = 2;
}

/// <summary>
/// A small OTLP/HTTP collector on loopback: takes <c>POST /v1/traces</c> (protobuf) as a real
/// collector would and reads the spans out of the wire format itself, so what is checked is what
/// the exporter actually sent.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private OtlpReceiver(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary>The collector's origin (the exporter adds <c>/v1/traces</c>).</summary>
    public Uri Endpoint { get; }

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    /// <summary>Content types of the exports received.</summary>
    public ConcurrentQueue<string> ContentTypes { get; } = new();

    /// <param name="port">A port of the test's choosing (a collector that comes up late); a free one by default.</param>
    public static async Task<OtlpReceiver> StartAsync(int? port = null)
    {
        var endpoint = new Uri($"http://127.0.0.1:{port ?? FreePort.Next()}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(endpoint.OriginalString);
        var app = builder.Build();
        var receiver = new OtlpReceiver(app, endpoint);
        app.MapPost("/v1/traces", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            receiver.ContentTypes.Enqueue(context.Request.ContentType ?? "");
            foreach (var span in Read(body.ToArray()))
            {
                receiver.Spans.Enqueue(span);
            }

            context.Response.ContentType = "application/x-protobuf";
        });
        await app.StartAsync();
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    // ExportTraceServiceRequest { 1: ResourceSpans { 1: Resource { 1: KeyValue }, 2: ScopeSpans { 2: Span } } }
    private static IEnumerable<ReceivedSpan> Read(byte[] request)
    {
        foreach (var (field, _, resourceSpans) in Fields(request))
        {
            if (field != 1)
            {
                continue;
            }

            var service = "";
            var spans = new List<ReceivedSpan>();
            foreach (var (rsField, _, rsValue) in Fields(resourceSpans.Bytes))
            {
                if (rsField == 1)
                {
                    var attributes = Attributes(rsValue.Bytes, 1);
                    service = attributes.TryGetValue("service.name", out var name) ? (string)name : "";
                }
                else if (rsField == 2)
                {
                    foreach (var (ssField, _, span) in Fields(rsValue.Bytes))
                    {
                        if (ssField == 2)
                        {
                            spans.Add(ReadSpan(span.Bytes));
                        }
                    }
                }
            }

            foreach (var span in spans)
            {
                yield return span with { Service = service };
            }
        }
    }

    // Span { 1 trace_id, 2 span_id, 4 parent_span_id, 5 name, 6 kind, 9 attributes, 15 status { 3 code } }
    private static ReceivedSpan ReadSpan(byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        int kind = 0, status = 0;
        foreach (var (field, _, value) in Fields(span))
        {
            switch (field)
            {
                case 1: traceId = Convert.ToHexStringLower(value.Bytes); break;
                case 2: spanId = Convert.ToHexStringLower(value.Bytes); break;
                case 4: parent = Convert.ToHexStringLower(value.Bytes); break;
                case 5: name = System.Text.Encoding.UTF8.GetString(value.Bytes); break;
                case 6: kind = (int)value.Number; break;
                case 15:
                    foreach (var (statusField, _, code) in Fields(value.Bytes))
                    {
                        if (statusField == 3)
                        {
                            status = (int)code.Number;
                        }
                    }

                    break;
            }
        }

        return new ReceivedSpan(traceId, spanId, parent, name, kind, status, "", Attributes(span, 9));
    }

    // KeyValue { 1 key, 2 AnyValue { 1 string, 2 bool, 3 int, 4 double, 5 array { 1 AnyValue } } }
    private static Dictionary<string, object> Attributes(byte[] message, int field)
    {
        var attributes = new Dictionary<string, object>();
        foreach (var (f, _, keyValue) in Fields(message))
        {
            if (f != field)
            {
                continue;
            }

            string? key = null;
            object? value = null;
            foreach (var (kvField, _, part) in Fields(keyValue.Bytes))
            {
                if (kvField == 1)
                {
                    key = System.Text.Encoding.UTF8.GetString(part.Bytes);
                }
                else if (kvField == 2)
                {
                    value = AnyValue(part.Bytes);
                }
            }

            if (key is not null && value is not null)
            {
                attributes[key] = value;
            }
        }

        return attributes;
    }

    private static object? AnyValue(byte[] any)
    {
        foreach (var (field, _, value) in Fields(any))
        {
            switch (field)
            {
                case 1: return System.Text.Encoding.UTF8.GetString(value.Bytes);
                case 2: return value.Number != 0;
                case 3: return (long)value.Number;
                case 4: return BitConverter.Int64BitsToDouble((long)value.Number);
                case 5: return Fields(value.Bytes).Where(v => v.Field == 1).Select(v => AnyValue(v.Value.Bytes)?.ToString() ?? "").ToArray();
            }
        }

        return null;
    }

    private readonly record struct WireValue(ulong Number, byte[] Bytes);

    private static List<(int Field, int WireType, WireValue Value)> Fields(byte[] message)
    {
        var fields = new List<(int, int, WireValue)>();
        var at = 0;
        while (at < message.Length)
        {
            var tag = Varint(message, ref at);
            var field = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add((field, wireType, new WireValue(Varint(message, ref at), [])));
                    break;
                case 1:
                    fields.Add((field, wireType, new WireValue(BitConverter.ToUInt64(message, at), [])));
                    at += 8;
                    break;
                case 2:
                    var length = (int)Varint(message, ref at);
                    fields.Add((field, wireType, new WireValue(0, message[at..(at + length)])));
                    at += length;
                    break;
                case 5:
                    fields.Add((field, wireType, new WireValue(BitConverter.ToUInt32(message, at), [])));
                    at += 4;
                    break;
                default:
                    throw new InvalidDataException($"wire type {wireType} at byte {at}");
            }
        }

        return fields;
    }

    private static ulong Varint(byte[] message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}

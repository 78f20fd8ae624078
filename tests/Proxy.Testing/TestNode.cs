using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Proxy.Testing;

/// <summary>What a test node saw of one request.</summary>
public sealed record ReceivedRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>The request target exactly as it arrived on the wire (Kestrel decodes <see cref="PathAndQuery"/>'s path).</summary>
    public string RawTarget { get; init; } = "";

    /// <summary>The subject of the client certificate the caller showed over TLS (null: none, or not TLS).</summary>
    public string? ClientCertificate { get; init; }
}

/// <summary>
/// A real Kestrel backend node on a free loopback port. It answers XML-RPC successes by default;
/// a test switches its behaviour (overload fault, hang, custom handler) at any time.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    public const string OverloadFault =
        "<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n<value><struct>\n"
        + "<member><name>faultCode</name>\n<value><i4>1007</i4></value></member>\n"
        + "<member><name>faultString</name><value><string>overloaded</string></value></member>\n"
        + "</struct></value>\n</fault>\n</methodResponse>\n";

    private readonly WebApplication _app;
    private volatile Func<HttpContext, Task> _behaviour;

    private TestNode(string name, WebApplication app)
    {
        Name = name;
        _app = app;
        _behaviour = Succeed;
    }

    public string Name { get; }

    public string Address { get; private set; } = "";

    public ConcurrentQueue<ReceivedRequest> Received { get; } = new();

    public int Hits => Received.Count;

    /// <summary>A node served over TLS: <paramref name="https"/> gives its certificate (and whether it asks for the caller's).</summary>
    public static Task<TestNode> StartHttpsAsync(string name, Action<Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions> https) =>
        StartAsync(name, null, https);

    public static async Task<TestNode> StartAsync(string name, string? unixSocketPath = null, Action<Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions>? https = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            if (https is not null)
            {
                k.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https));
            }
            else if (unixSocketPath is null)
            {
                k.Listen(IPAddress.Loopback, 0);
            }
            else
            {
                k.ListenUnixSocket(unixSocketPath);
            }
        });
        var app = builder.Build();
        var node = new TestNode(name, app);
        app.Run(node.HandleAsync);
        await app.StartAsync();
        node.Address = unixSocketPath is null
            ? app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()
            : "unix:" + unixSocketPath;
        return node;
    }

    /// <summary>From now on, answer with the XML-RPC overload fault (HTTP 200).</summary>
    public void Overload() => _behaviour = ctx => Xml(ctx, OverloadFault);

    /// <summary>From now on, answer with exactly these bytes (HTTP 200), with the given Content-Type and Content-Encoding.</summary>
    public void Serve(byte[] body, string? contentType = "text/xml", string? contentEncoding = null) => _behaviour = ctx =>
    {
        if (contentType is not null)
        {
            ctx.Response.ContentType = contentType;
        }

        if (contentEncoding is not null)
        {
            ctx.Response.Headers.ContentEncoding = contentEncoding;
        }

        ctx.Response.ContentLength = body.Length;
        return ctx.Response.Body.WriteAsync(body, ctx.RequestAborted).AsTask();
    };

    /// <summary>From now on, answer XML-RPC successes naming this node.</summary>
    public void Recover() => _behaviour = Succeed;

    /// <summary>From now on, never answer (until the client gives up).</summary>
    public void Hang() => _behaviour = ctx => Task.Delay(Timeout.Infinite, ctx.RequestAborted);

    /// <summary>From now on, handle requests with <paramref name="handler"/>.</summary>
    public void Handle(Func<HttpContext, Task> handler) => _behaviour = handler;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        Received.Enqueue(new ReceivedRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers, body.ToArray())
        {
            RawTarget = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "",
            ClientCertificate = context.Connection.ClientCertificate?.Subject,
        });
        await _behaviour(context);
    }

    private Task Succeed(HttpContext context) =>
        Xml(context, $"<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><string>{Name}</string></value></param></params></methodResponse>\n");

    private static Task Xml(HttpContext context, string body)
    {
        context.Response.ContentType = "text/xml";
        return context.Response.WriteAsync(body, Encoding.UTF8, context.RequestAborted);
    }
}

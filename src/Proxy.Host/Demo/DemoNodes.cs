using System.Text;
using Proxy.Host.Configuration;

namespace Proxy.Host.Demo;

/// <summary>
/// Two tiny XML-RPC nodes embedded for the demo (<c>--demo</c>), on 127.0.0.1:9001 and 9002 unless
/// <c>Demo:Ports:0</c> and <c>Demo:Ports:1</c> say otherwise. Each answers a method call with a
/// success, or with the <c>faultCode 1007</c> overload fault while switched:
/// <c>curl -X POST 'http://127.0.0.1:9001/overload?on=true'</c>.
/// </summary>
internal sealed class DemoNodes(ProxySettings settings, ILogger<DemoNodes> logger) : IHostedService
{
    private readonly List<WebApplication> _apps = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, address) in settings.DemoNodes)
        {
            var app = CreateNode(name, address);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            _apps.Add(app);
            logger.LogInformation("Demo node {Node} listening on {Address}", name, address);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var app in _apps)
        {
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <c>Proxy.Host --demo-node --Demo:Name=demo-1 --Demo:Listen=http://0.0.0.0:9001</c>: one demo
    /// node on its own (the docker compose file runs its nodes this way).
    /// </summary>
    public static async Task<int> RunOneAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
        var listen = configuration["Demo:Listen"] ?? "http://0.0.0.0:9001";
        try
        {
            Hosting.PortCheck.EnsureFree("Demo:Listen", listen);
        }
        catch (Configuration.ProxyConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 2;
        }
        catch (FormatException ex)
        {
            await Console.Error.WriteLineAsync($"invalid configuration: Demo:Listen: '{listen}' is not a URL: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        var app = CreateNode(configuration["Demo:Name"] ?? "demo", listen);
        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }

    internal static WebApplication CreateNode(string name, string address)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(address);
        var app = builder.Build();
        var overloaded = false;

        app.MapPost("/overload", (bool? on) =>
        {
            Volatile.Write(ref overloaded, on ?? !Volatile.Read(ref overloaded));
            return Results.Text($"{name} overloaded={Volatile.Read(ref overloaded).ToString().ToLowerInvariant()}\n");
        });
        app.Map("/{**path}", (HttpContext context) =>
        {
            var body = Volatile.Read(ref overloaded) ? Fault(name) : Success(name, context.Request.Path);
            return Results.Text(body, "text/xml", Encoding.UTF8);
        });
        return app;
    }

    private static string Success(string node, string path) =>
        $"<?xml version=\"1.0\"?>\n<methodResponse><params><param><value><string>{node} handled {path}</string></value></param></params></methodResponse>\n";

    private static string Fault(string node) =>
        "<?xml version=\"1.0\"?>\n<methodResponse><fault><value><struct>\n"
        + "<member><name>faultCode</name><value><i4>1007</i4></value></member>\n"
        + $"<member><name>faultString</name><value><string>{node} is overloaded</string></value></member>\n"
        + "</struct></value></fault></methodResponse>\n";
}

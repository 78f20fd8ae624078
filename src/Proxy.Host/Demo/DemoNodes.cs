using System.Text;
using Proxy.Actors.Tls;
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
    /// node on its own (the docker compose file runs its nodes this way); an https:// one takes its
    /// certificate from <c>Demo:CertificateFile</c> and <c>Demo:KeyFile</c>.
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

        WatchedPem<CertificateWithChain>? certificate = null;
        if (listen.StartsWith("https:", StringComparison.OrdinalIgnoreCase))
        {
            // An https:// demo node, as docker/docker-compose.yml runs one: PEM files, renewed in place.
            try
            {
                certificate = WatchedCertificate.Open(
                    configuration["Demo:CertificateFile"] ?? throw new Configuration.ProxyConfigurationException("Demo:CertificateFile", $"is required for {listen}"),
                    configuration["Demo:KeyFile"]);
            }
            catch (Configuration.ProxyConfigurationException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 2;
            }
            catch (PemFileException ex)
            {
                await Console.Error.WriteLineAsync($"invalid configuration: {(ex.AboutKey && configuration["Demo:KeyFile"] is not null ? "Demo:KeyFile" : "Demo:CertificateFile")}: {ex.Message}").ConfigureAwait(false);
                return 2;
            }
        }

        var app = CreateNode(configuration["Demo:Name"] ?? "demo", listen, certificate);
        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }

    internal static WebApplication CreateNode(string name, string address, WatchedPem<CertificateWithChain>? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(address);
        if (certificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
                https.ServerCertificateSelector = (_, _) => certificate.Current.Leaf));
        }

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

using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Yarp.ReverseProxy.Configuration;

// Plain YARP, round-robin over the same nodes as the proxy, for bench/run.sh:
//   dotnet YarpBaseline.dll --urls http://127.0.0.1:8100 --nodes http://127.0.0.1:18081,http://127.0.0.1:18082
// Configured as the proxy is for the TLS scenarios:
//   --https-port P --certificate server.pem --key server.key   an https:// listener too (TLS 1.2+, HTTP/1.1)
//   --ca ca.pem                                                https:// nodes verified against this CA only
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var nodes = (builder.Configuration["nodes"] ?? "http://127.0.0.1:18081,http://127.0.0.1:18082").Split(',');
if (builder.Configuration["https-port"] is { } httpsPort)
{
    var certificate = X509Certificate2.CreateFromPemFile(builder.Configuration["certificate"]!, builder.Configuration["key"]);
    builder.WebHost.UseKestrelHttpsConfiguration();
    // Listening explicitly overrides --urls: the http:// listener is bound here too.
    var http = new Uri(builder.Configuration["urls"] ?? "http://127.0.0.1:8100");
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        kestrel.Listen(IPAddress.Loopback, http.Port);
        kestrel.Listen(IPAddress.Loopback, int.Parse(httpsPort, System.Globalization.CultureInfo.InvariantCulture), listen =>
        {
            listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
            listen.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                https.SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
            });
        });
    });
}

var proxy = builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "nodes", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig
    {
        ClusterId = "nodes",
        LoadBalancingPolicy = "RoundRobin",
        Destinations = nodes.Select((address, i) => (address, i)).ToDictionary(n => $"node{n.i + 1}", n => new DestinationConfig { Address = n.address }),
    }]);
if (builder.Configuration["ca"] is { } caFile)
{
    // The CA file as the only trust, as the proxy's Tls:CaFile does.
    var authorities = new X509Certificate2Collection();
    authorities.ImportFromPemFile(caFile);
    proxy.ConfigureHttpClient((_, handler) => handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    });
}

var app = builder.Build();
app.MapReverseProxy();
app.Run();

using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Proxy.Actors.Tls;

namespace Proxy.Host.Hosting;

/// <summary>
/// The certificate the https:// listeners show, from <c>Proxy:Tls:CertificateFile</c> and
/// <c>KeyFile</c>: each new connection gets the files' current certificate, so a renewal (ACME, a
/// rotated Kubernetes secret) takes effect without a restart. TLS 1.2 and 1.3 only; ALPN offers
/// http/1.1, the one protocol the client listener speaks.
/// </summary>
public sealed class ListenerCertificate(WatchedPem<CertificateWithChain> files)
{
    private static readonly List<SslApplicationProtocol> Http11Only = [SslApplicationProtocol.Http11];

    public WatchedPem<CertificateWithChain> Files { get; } = files;

    /// <summary>Kestrel's per-connection callback: the handshake options with the current certificate.</summary>
    public ValueTask<SslServerAuthenticationOptions> OptionsAsync(TlsHandshakeCallbackContext context) => ValueTask.FromResult(new SslServerAuthenticationOptions
    {
        ServerCertificateContext = Files.Current.Context,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ApplicationProtocols = Http11Only,
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    });
}

/// <summary>
/// Looks at the listener's certificate files every two seconds, so a renewal is logged when it
/// happens (not at the next handshake), and a renewal that cannot be used is reported once while
/// the previous certificate goes on serving.
/// </summary>
public sealed partial class ListenerCertificateWatcher(ListenerCertificate certificate, ILogger<ListenerCertificateWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogServing(logger, certificate.Files.Current.Describe());
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var change = certificate.Files.Refresh();
            if (change.Reloaded)
            {
                LogRenewed(logger, certificate.Files.Current.Describe());
            }
            else if (change.Recovered)
            {
                LogWholeAgain(logger, certificate.Files.Current.Describe());
            }
            else if (change.Problem is { } problem && !change.Repeated)
            {
                LogUnusable(logger, problem, certificate.Files.Current.Describe());
            }
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "https:// listeners serve the certificate {Certificate}")]
    private static partial void LogServing(ILogger logger, string certificate);

    [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "Renewed listener certificate: new connections get {Certificate}")]
    private static partial void LogRenewed(ILogger logger, string certificate);

    [LoggerMessage(EventId = 43, Level = LogLevel.Information, Message = "The listener certificate files are whole again; serving {Certificate}")]
    private static partial void LogWholeAgain(ILogger logger, string certificate);

    [LoggerMessage(EventId = 42, Level = LogLevel.Warning, Message = "The changed listener certificate files cannot be used: {Problem}; still serving {Certificate}")]
    private static partial void LogUnusable(ILogger logger, string problem, string certificate);
}

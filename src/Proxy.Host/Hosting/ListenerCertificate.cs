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
/// Tells the log what the listener's certificate files do: the certificate served at start-up, a
/// renewal when it happens (not at the next handshake), a renewal that cannot be used (once, while
/// the previous certificate goes on serving) and the files whole again. The files' own timer
/// (<see cref="WatchedPem{T}"/>, every two seconds) does the looking.
/// </summary>
public sealed partial class ListenerCertificateWatcher(ListenerCertificate certificate, ILogger<ListenerCertificateWatcher> logger) : IHostedService
{
    /// <summary>How often the listener's certificate files are looked at.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        LogServing(logger, certificate.Files.Current.Describe());
        certificate.Files.Changed = Tell;
        return Task.CompletedTask;
    }

    // The timer stops; connections still accepted while the host drains get the certificate last read.
    public Task StopAsync(CancellationToken cancellationToken)
    {
        certificate.Files.Changed = null;
        certificate.Files.Dispose();
        return Task.CompletedTask;
    }

    private void Tell(WatchedPem<CertificateWithChain>.Change change)
    {
        var serving = certificate.Files.Current.Describe();
        if (change.Problem is { } problem)
        {
            LogUnusable(logger, problem, serving);
        }
        else if (change.Recovered)
        {
            LogWholeAgain(logger, serving);
        }
        else
        {
            LogRenewed(logger, serving);
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

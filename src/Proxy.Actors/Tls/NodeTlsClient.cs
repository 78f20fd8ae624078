using System.Net;
using Akka.Event;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Proxy.Actors.Nodes;

namespace Proxy.Actors.Tls;

/// <summary>
/// The TLS side of one https:// node's connections: the name sent (SNI) and checked, the trust the
/// node's certificate is checked against (its CA file, else the system store), the client
/// certificate for mutual TLS, and why a handshake was refused, in words for the log and
/// <c>/debug/nodes</c>.
/// </summary>
/// <remarks>
/// The CA file and the client certificate are watched: a renewal is used for the next new
/// connection. They are first read on the first connection (off the actor that makes this object),
/// bounded by the connect timeout; a file that cannot be used then fails that handshake with the
/// reason, and the next connection reads it again.
/// </remarks>
public sealed class NodeTlsClient : IDisposable
{
    private static readonly List<SslApplicationProtocol> Http11Only = [SslApplicationProtocol.Http11];

    private readonly NodeTlsSettings _settings;
    private readonly string _expectedName;
    private readonly FirstRead<X509Certificate2Collection>? _authorities;
    private readonly FirstRead<CertificateWithChain>? _clientCertificate;
    private readonly TimeSpan _connectTimeout;

    /// <param name="address">The node's address: its host is the name verified unless <see cref="NodeTlsSettings.ServerName"/> says otherwise.</param>
    /// <param name="settings">The node's TLS settings (null: the system store, by the address's host).</param>
    /// <param name="node">The node's name, for the log.</param>
    /// <param name="log">Where renewals of the CA file and client certificate, and renewals that cannot be used, are told.</param>
    /// <param name="connectTimeout">The node's connect timeout, which bounds the TCP connect and the handshake together.</param>
    public NodeTlsClient(NodeAddress address, NodeTlsSettings? settings, string node = "", ILoggingAdapter? log = null, TimeSpan? connectTimeout = null)
    {
        _settings = settings ?? NodeTlsSettings.Default;
        _expectedName = _settings.ServerName ?? address.Host ?? "localhost";
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(5);
        if (_settings.CaFile is { } caFile)
        {
            _authorities = new(() => WatchedBundle.Open(caFile, WatchInterval), change => Tell(log, node, "CA file", caFile, change));
        }

        if (_settings.ClientCertificateFile is { } clientFile)
        {
            _clientCertificate = new(() => WatchedCertificate.Open(clientFile, _settings.ClientKeyFile, WatchInterval), change => Tell(log, node, "client certificate", clientFile, change));
        }
    }

    private static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(1);

    public void Dispose()
    {
        _authorities?.Dispose();
        _clientCertificate?.Dispose();
    }

    private static void Tell<T>(ILoggingAdapter? log, string node, string what, string file, WatchedPem<T>.Change change)
        where T : class
    {
        if (change.Problem is { } problem)
        {
            log?.Warning("Node {0}: the changed {1} cannot be used: {2}; new connections still use the previous one", node, what, problem);
        }
        else if (change.Recovered)
        {
            log?.Info("Node {0}: the {1} {2} is whole again", node, what, file);
        }
        else
        {
            log?.Info("Node {0}: renewed {1} {2}: new connections use it", node, what, file);
        }
    }

    /// <summary>
    /// Opens a connection to the node and completes the TLS handshake on it, for SocketsHttpHandler's
    /// ConnectCallback. The handler is given an http:// URI and this TLS stream, rather than an
    /// https:// URI: SocketsHttpHandler would take the name to send and verify from the request's
    /// Host header, which is the client's to choose (a client could pick the name the node's
    /// certificate is checked against, and open a connection pool per name it sends).
    /// </summary>
    /// <exception cref="NodeTlsException">The handshake failed; the message says why.</exception>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        X509Certificate2Collection? authorities = null;
        SslStreamCertificateContext? client = null;
        try
        {
            authorities = _authorities is null ? null : await _authorities.CurrentAsync(cancellationToken).ConfigureAwait(false);
            client = _clientCertificate is null ? null : (await _clientCertificate.CurrentAsync(cancellationToken).ConfigureAwait(false)).Context;
        }
        catch (PemFileException ex)
        {
            throw new NodeTlsException(authorities is null && _authorities is not null ? $"the CA file cannot be used: {ex.Message}" : $"the client certificate cannot be used: {ex.Message}", ex);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new NodeTlsException($"the CA file or client certificate could not be read within the connect timeout ({_connectTimeout})", ex);
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        var rejection = new Rejection();
        try
        {
            await tls.AuthenticateAsClientAsync(Options(rejection, authorities, client), cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new NodeTlsException(rejection.Reason ?? Innermost(ex).Message, ex);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            // Connected, but the node never finished its side of the handshake (it speaks no TLS, or stalls).
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new NodeTlsException($"connected, but the handshake did not finish within the connect timeout ({_connectTimeout})", ex);
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private SslClientAuthenticationOptions Options(Rejection rejection, X509Certificate2Collection? authorities, SslStreamCertificateContext? client) => new()
    {
        TargetHost = _expectedName,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ApplicationProtocols = Http11Only,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Verify(certificate, chain, errors, authorities, rejection),
        ClientCertificateContext = client,
    };

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    private bool Verify(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, X509Certificate2Collection? authorities, Rejection rejection)
    {
        if (_settings.Insecure)
        {
            return true;
        }

        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return rejection.Refuse("the node sent no certificate");
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        X509ChainStatus[] chainStatus = chain?.ChainStatus ?? [];
        if (authorities is not null)
        {
            // Trust exactly the CA file: the chain is built again against it alone.
            var verdict = CaFileChain.Check(leaf, authorities, chain, CaFileChain.ServerAuthentication);
            var trusted = verdict.Trusted;
            chainStatus = verdict.Status;
            if (verdict.AnchorNotRoot is { } anchor)
            {
                return rejection.Refuse($"certificate {leaf.Subject} refused: the CA file holds {anchor}, which is not a root CA; put the root (self-signed) CA it chains to in the file");
            }
            errors = (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) | (trusted ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateChainErrors);
        }

        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        var reasons = new List<string>(2);
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reasons.Add($"it names {Names(leaf)}, not '{_expectedName}'");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            reasons.Add(DescribeChain(leaf, chainStatus));
        }

        return rejection.Refuse($"certificate {leaf.Subject} refused: {string.Join("; ", reasons)}");
    }

    private string DescribeChain(X509Certificate2 leaf, X509ChainStatus[] status)
    {
        var flags = status.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        var trust = _settings.CaFile is { } caFile ? $"the CA file {caFile}" : "the system store";
        if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid))
        {
            var now = DateTime.Now;
            return leaf.NotAfter < now
                ? $"it expired {leaf.NotAfter.ToUniversalTime():u}"
                : leaf.NotBefore > now ? $"it is not valid before {leaf.NotBefore.ToUniversalTime():u}" : "a certificate of its chain is outside its validity";
        }

        if (flags.HasFlag(X509ChainStatusFlags.UntrustedRoot) || flags.HasFlag(X509ChainStatusFlags.PartialChain))
        {
            return $"its issuer {leaf.Issuer} is not trusted by {trust}";
        }

        if (flags.HasFlag(X509ChainStatusFlags.NotValidForUsage))
        {
            return "it is not for server authentication (extended key usage)";
        }

        var details = string.Join(", ", status.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"its chain does not verify against {trust} ({(details.Length > 0 ? details : flags.ToString())})";
    }

    private static string Names(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension names)
            {
                var all = names.EnumerateDnsNames().Concat(names.EnumerateIPAddresses().Select(ip => ip.ToString())).Select(n => $"'{n}'").ToArray();
                if (all.Length > 0)
                {
                    return string.Join(", ", all);
                }
            }
        }

        return $"'{certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false)}'";
    }

    // Why this one handshake was refused: SslStream's own exception says only that the callback refused.
    private sealed class Rejection
    {
        public string? Reason { get; private set; }

        public bool Refuse(string reason)
        {
            Reason = reason;
            return false;
        }
    }
}

/// <summary>
/// A watched file set read the first time it is needed, off the caller's thread and bounded by the
/// caller's token; a read that failed is tried again by the next caller, never remembered.
/// </summary>
internal sealed class FirstRead<T>(Func<WatchedPem<T>> open, Action<WatchedPem<T>.Change> changed) : IDisposable
    where T : class
{
    private Task<WatchedPem<T>>? _reading;
    private bool _disposed;

    public async ValueTask<T> CurrentAsync(CancellationToken cancellationToken)
    {
        var reading = Volatile.Read(ref _reading);
        if (reading is null || reading.IsFaulted)
        {
            var fresh = Task.Run(() =>
            {
                var watched = open();
                watched.Changed = changed;
                return watched;
            }, CancellationToken.None);
            reading = Interlocked.CompareExchange(ref _reading, fresh, reading) == reading ? fresh : Volatile.Read(ref _reading)!;
        }

        var pem = await reading.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (Volatile.Read(ref _disposed))
        {
            pem.Dispose();
        }

        return pem.Current;
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        if (Volatile.Read(ref _reading) is { IsCompletedSuccessfully: true } reading)
        {
            reading.Result.Dispose();
        }
    }
}

/// <summary>The TLS handshake with an https:// node failed; the message says why, in words for the log and <c>/debug/nodes</c>.</summary>
public sealed class NodeTlsException(string message, Exception? inner = null) : Exception(message, inner);

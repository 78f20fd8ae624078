namespace Proxy.Actors.Nodes;

/// <summary>
/// How an https:// node is verified and what this proxy shows it: the CA bundle that must have
/// signed its certificate (null: the system store), the name its certificate must carry and SNI
/// sends (null: the address's host), a client certificate and key for mutual TLS, and the explicit
/// opt-out of verification (warned about at start-up).
/// </summary>
public sealed record NodeTlsSettings(string? CaFile = null, string? ServerName = null, string? ClientCertificateFile = null, string? ClientKeyFile = null, bool Insecure = false)
{
    public static NodeTlsSettings Default { get; } = new();
}

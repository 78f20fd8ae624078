namespace Proxy.Actors.Nodes;

/// <summary>Where a node listens: <c>http://host:port[/prefix]</c>, <c>https://host:port[/prefix]</c> or <c>unix:/path/to.sock</c>.</summary>
public sealed record NodeAddress
{
    private NodeAddress(string original, Uri baseUri, string? unixSocketPath)
    {
        Original = original;
        UnixSocketPath = unixSocketPath;
        Prefix = baseUri.AbsolutePath.TrimEnd('/');
        IsHttps = baseUri.Scheme == Uri.UriSchemeHttps;

        // An https:// node's requests are written as http:// ones to the TLS stream NodeTlsClient opens
        // (it, not the handler, owns the handshake), on the port the address names or implies.
        Origin = IsHttps
            ? new UriBuilder(baseUri) { Scheme = Uri.UriSchemeHttp, Port = baseUri.Port }.Uri.GetLeftPart(UriPartial.Authority)
            : baseUri.GetLeftPart(UriPartial.Authority);
    }

    public string Original { get; }

    public string? UnixSocketPath { get; }

    /// <summary>The path prefix every forwarded path is appended to ("" when none).</summary>
    public string Prefix { get; }

    /// <summary>Scheme, host and port of the URI a try is sent to (http:// for an https:// node: see the constructor).</summary>
    public string Origin { get; }

    /// <summary>True for an https:// node: its connections are TLS, verified as its <see cref="NodeTlsSettings"/> say.</summary>
    public bool IsHttps { get; }

    /// <summary>
    /// The <c>Host</c> a try names when it is not the authority dialled: for a node found by DNS,
    /// the name it was found under (as SNI and certificate verification already use), so the node
    /// sees the address it was configured as, like any other. Null: the dialled authority.
    /// </summary>
    public string? HostHeader { get; private init; }

    public override string ToString() => Original;

    public static bool TryParse(string? value, out NodeAddress? address, out string error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "is required (http://host:port, https://host:port or unix:/path/to.sock)";
            return false;
        }

        if (value.Length > 2048)
        {
            error = $"is {value.Length} characters long; at most 2048";
            return false;
        }

        if (value.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            var path = value["unix:".Length..];
            if (!path.StartsWith('/'))
            {
                error = $"'{value}' is not a valid unix socket address: expected unix:/absolute/path.sock";
                return false;
            }

            address = new NodeAddress(value, new Uri("http://localhost/"), path);
            error = "";
            return true;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            error = $"'{value}' is not a valid node address: expected http://host:port, https://host:port or unix:/path/to.sock";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            // Named without the credentials: the message goes to logs and to the admin API's caller.
            error = $"'{uri.Scheme}://***@{uri.Authority}{uri.AbsolutePath.TrimEnd('/')}' is not a valid node address: credentials in the address are not sent; expected http://host:port, https://host:port or unix:/path/to.sock";
            return false;
        }

        address = new NodeAddress(value, uri, null);
        error = "";
        return true;
    }

    /// <summary>The host of an http:// or https:// address (null for a unix socket).</summary>
    public string? Host => UnixSocketPath is null ? new Uri(Original).Host : null;

    /// <summary>This address with its host replaced by <paramref name="ip"/> (a node found by DNS).</summary>
    public NodeAddress WithHost(System.Net.IPAddress ip)
    {
        var builder = new UriBuilder(Original)
        {
            Host = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString(),
        };
        var text = builder.Uri.AbsolutePath == "/" && !Original.EndsWith('/') ? builder.Uri.GetLeftPart(UriPartial.Authority) : builder.Uri.ToString();
        return Parse(text) with { HostHeader = HostHeader ?? new Uri(Origin).Authority };
    }

    public static NodeAddress Parse(string value) =>
        TryParse(value, out var address, out var error) ? address! : throw new FormatException(error);
}

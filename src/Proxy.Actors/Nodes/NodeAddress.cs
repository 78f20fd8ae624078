namespace Proxy.Actors.Nodes;

/// <summary>Where a node listens: <c>http://host:port[/prefix]</c> or <c>unix:/path/to.sock</c>.</summary>
public sealed record NodeAddress
{
    private NodeAddress(string original, Uri baseUri, string? unixSocketPath)
    {
        Original = original;
        UnixSocketPath = unixSocketPath;
        Prefix = baseUri.AbsolutePath.TrimEnd('/');
        Origin = baseUri.GetLeftPart(UriPartial.Authority);
    }

    public string Original { get; }

    public string? UnixSocketPath { get; }

    /// <summary>The path prefix every forwarded path is appended to ("" when none).</summary>
    public string Prefix { get; }

    public string Origin { get; }

    public override string ToString() => Original;

    public static bool TryParse(string? value, out NodeAddress? address, out string error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "is required (http://host:port or unix:/path/to.sock)";
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

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || string.IsNullOrEmpty(uri.Host)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            error = $"'{value}' is not a valid node address: expected http://host:port or unix:/path/to.sock";
            return false;
        }

        address = new NodeAddress(value, uri, null);
        error = "";
        return true;
    }

    /// <summary>The host of an http:// address (null for a unix socket).</summary>
    public string? Host => UnixSocketPath is null ? new Uri(Original).Host : null;

    /// <summary>This address with its host replaced by <paramref name="ip"/> (a node found by DNS).</summary>
    public NodeAddress WithHost(System.Net.IPAddress ip)
    {
        var builder = new UriBuilder(Original)
        {
            Host = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString(),
        };
        var text = builder.Uri.AbsolutePath == "/" && !Original.EndsWith('/') ? builder.Uri.GetLeftPart(UriPartial.Authority) : builder.Uri.ToString();
        return Parse(text);
    }

    public static NodeAddress Parse(string value) =>
        TryParse(value, out var address, out var error) ? address! : throw new FormatException(error);
}

namespace Proxy.Actors.Forwarding;

/// <summary>Headers that describe one connection, not the message (RFC 9110 section 7.6.1): never forwarded.</summary>
public static class HopByHopHeaders
{
    private static readonly HashSet<string> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection",
        "Proxy-Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    };

    /// <summary>
    /// Whether a Transfer-Encoding header (<paramref name="count"/> field lines, the first
    /// <paramref name="first"/>) says chunked and nothing else: the one coding the proxy undoes
    /// (Kestrel for a request, HttpClient for an answer). Any other would pass on still applied.
    /// </summary>
    public static bool IsChunkedOnly(int count, string? first) =>
        count == 1 && first.AsSpan().Trim().Equals("chunked", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The header names a message's Connection header (its values joined by commas) lists, or null
    /// when it lists none. Parsed once per message; <c>keep-alive</c> and <c>close</c> are options,
    /// not names, and most messages carry only those.
    /// </summary>
    public static string[]? NamedByConnection(string? connection)
    {
        if (string.IsNullOrEmpty(connection))
        {
            return null;
        }

        List<string>? named = null;
        foreach (var range in connection.AsSpan().Split(','))
        {
            var token = connection.AsSpan()[range].Trim();
            if (token.Length > 0
                && !token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
                && !token.Equals("close", StringComparison.OrdinalIgnoreCase))
            {
                (named ??= []).Add(token.ToString());
            }
        }

        return named?.ToArray();
    }

    /// <summary>True when <paramref name="name"/> is hop-by-hop, or one of <paramref name="namedByConnection"/>.</summary>
    public static bool IsHopByHop(string name, string[]? namedByConnection)
    {
        if (Names.Contains(name))
        {
            return true;
        }

        if (namedByConnection is null)
        {
            return false;
        }

        foreach (var named in namedByConnection)
        {
            if (named.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

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

    /// <summary>True when <paramref name="name"/> is hop-by-hop or listed as such in the message's Connection header.</summary>
    public static bool IsHopByHop(string name, IEnumerable<string>? connectionTokens)
    {
        if (Names.Contains(name))
        {
            return true;
        }

        if (connectionTokens is null)
        {
            return false;
        }

        foreach (var value in connectionTokens)
        {
            foreach (var token in value.AsSpan().Split(','))
            {
                if (value.AsSpan()[token].Trim().Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

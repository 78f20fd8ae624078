using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Proxy.Actors.Tls;

/// <summary>
/// A presented certificate checked against a CA file alone: the chain built again with only that
/// file's certificates as roots (no system store), no revocation, and the uses the certificate
/// must allow. How an https:// node is checked, and how cluster members check each other.
/// </summary>
public static class CaFileChain
{
    public static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    public static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>The chain's verdict and faults.</summary>
    /// <param name="AnchorNotRoot">When it failed because the CA file holds an intermediate where the chain stops, that intermediate's subject.</param>
    public readonly record struct Verdict(bool Trusted, X509ChainStatus[] Status, string? AnchorNotRoot);

    /// <param name="presented">The chain TLS built, whose extra store holds the intermediates the peer sent.</param>
    public static Verdict Check(X509Certificate2 leaf, X509Certificate2Collection authorities, X509Chain? presented, params Oid[] usages)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var usage in usages)
        {
            chain.ChainPolicy.ApplicationPolicy.Add(usage);
        }

        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        var trusted = chain.Build(leaf);
        return new Verdict(trusted, chain.ChainStatus, trusted ? null : AnchorIsNotRoot(chain, authorities));
    }

    // An intermediate CA given as the CA file: .NET, like Python's ssl, anchors trust at a root only.
    private static string? AnchorIsNotRoot(X509Chain chain, X509Certificate2Collection authorities)
    {
        var top = chain.ChainElements[^1].Certificate;
        foreach (var authority in authorities)
        {
            if (authority.SubjectName.RawData.AsSpan().SequenceEqual(top.SubjectName.RawData) && authority.SubjectName.Name != authority.IssuerName.Name)
            {
                return authority.Subject;
            }
        }

        return null;
    }
}

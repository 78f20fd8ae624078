using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Proxy.Testing;

/// <summary>A certificate issued for a test, written as PEM files (the certificate, then its key).</summary>
public sealed record IssuedCertificate(string CertificateFile, string KeyFile, X509Certificate2 Certificate);

/// <summary>
/// A certificate authority made for one test, in a temporary directory of PEM files: its own
/// certificate (<see cref="CaFile"/>) and the server and client certificates it issues, as an
/// operator's private PKI would hand them out.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly ECDsa _key;
    private readonly X509Certificate2 _authority;
    private long _serial = DateTime.UtcNow.Ticks;

    private TestCertificates(string directory, string name, TestCertificates? parent = null)
    {
        Directory = directory;
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (parent is null)
        {
            _authority = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        }
        else
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(parent._authority, true, false));
            using var signed = request.Create(parent._authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), BitConverter.GetBytes(Interlocked.Increment(ref parent._serial)));
            _authority = signed.CopyWithPrivateKey(_key);
        }

        CaFile = Path.Combine(directory, $"{name.Replace(' ', '-')}.pem");
        File.WriteAllText(CaFile, _authority.ExportCertificatePem());
    }

    public string Directory { get; }

    /// <summary>This CA's certificate as a PEM bundle of one.</summary>
    public string CaFile { get; }

    public static TestCertificates Create(string name = "Test CA", string? directory = null)
    {
        directory ??= System.IO.Directory.CreateTempSubdirectory("proxy-tls-").FullName;
        return new TestCertificates(directory, name);
    }

    /// <summary>An intermediate CA this one signs, in the same directory (its <see cref="CaFile"/> holds the intermediate alone).</summary>
    public TestCertificates Intermediate(string name) => new(Directory, name, this);

    /// <summary>Another CA in the same directory: a certificate it issues is not trusted by this one's CA file.</summary>
    public TestCertificates Another(string name) => new(Directory, name);

    /// <summary>A server certificate for localhost and 127.0.0.1 (or <paramref name="names"/>), written as <paramref name="file"/>.pem and .key.</summary>
    public IssuedCertificate Server(string file, string subject = "localhost", string[]? names = null, DateTimeOffset? notAfter = null) =>
        Issue(file, subject, names ?? ["localhost", "127.0.0.1"], ServerAuthentication, notAfter);

    /// <summary>A client certificate for mutual TLS.</summary>
    public IssuedCertificate Client(string file, string subject) => Issue(file, subject, [], ClientAuthentication, null);

    /// <summary>A cluster member's certificate: it serves its peers and is their client too.</summary>
    public IssuedCertificate Member(string file, string subject) => Issue(file, subject, ["127.0.0.1"], [ServerAuthentication, ClientAuthentication], null);

    /// <summary>Issues a certificate into the given files (overwriting them: a renewal).</summary>
    public IssuedCertificate Issue(string file, string subject, string[] names, Oid usage, DateTimeOffset? notAfter) =>
        Issue(file, subject, names, [usage], notAfter);

    private IssuedCertificate Issue(string file, string subject, string[] names, Oid[] usages, DateTimeOffset? notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_authority, true, false));
        if (names.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in names)
            {
                if (IPAddress.TryParse(name, out var ip))
                {
                    san.AddIpAddress(ip);
                }
                else
                {
                    san.AddDnsName(name);
                }
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        var end = notAfter ?? DateTimeOffset.UtcNow.AddDays(10);
        using var issued = request.Create(_authority, DateTimeOffset.UtcNow.AddDays(-1), end < _authority.NotAfter ? end : _authority.NotAfter, serial);
        var withKey = issued.CopyWithPrivateKey(key);
        var certificateFile = Path.Combine(Directory, file + ".pem");
        var keyFile = Path.Combine(Directory, file + ".key");

        // Each file replaced whole (written aside, then renamed), as certificate tools do.
        WriteAtomically(keyFile, key.ExportPkcs8PrivateKeyPem());
        WriteAtomically(certificateFile, withKey.ExportCertificatePem());
        return new IssuedCertificate(certificateFile, keyFile, X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null));
    }

    /// <summary>Whether <paramref name="certificate"/> chains to this CA (what a client given <see cref="CaFile"/> checks).</summary>
    public bool Issued(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public void Dispose()
    {
        _authority.Dispose();
        _key.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        var aside = path + ".tmp";
        File.WriteAllText(aside, text);
        File.Move(aside, path, overwrite: true);
    }
}

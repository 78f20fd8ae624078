using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Proxy.Actors.Tls;

/// <summary>A PEM file that cannot be used, with the reason in words an operator can act on.</summary>
public sealed class PemFileException(string file, string reason, bool aboutKey = false) : Exception($"'{file}' {reason}")
{
    public string File { get; } = file;

    /// <summary>True when the private key is what cannot be used (the file may hold the certificate too).</summary>
    public bool AboutKey { get; } = aboutKey;

    public string Reason { get; } = reason;
}

/// <summary>A certificate with its private key and the intermediates that came after it in the file.</summary>
public sealed record CertificateWithChain(X509Certificate2 Leaf, X509Certificate2Collection Intermediates, SslStreamCertificateContext Context)
{
    /// <summary>Subject, expiry and thumbprint, as a log line names a certificate.</summary>
    public string Describe() => $"{Leaf.Subject}, valid until {Leaf.NotAfter.ToUniversalTime():u}, SHA-256 {Leaf.GetCertHashString(HashAlgorithmName.SHA256)[..16]}…";
}

/// <summary>Reads certificates and keys from PEM text, the way HAProxy, nginx and Envoy take them.</summary>
public static class PemFiles
{
    private const string CertificateLabel = "-----BEGIN CERTIFICATE-----";

    private const int MaxFileLength = 1024 * 1024;

    /// <summary>
    /// A certificate (first block of <paramref name="certificateFile"/>, the blocks after it its chain,
    /// as ACME's fullchain.pem holds them) and its key (from <paramref name="keyFile"/>, or from the
    /// certificate file when that holds it too, as HAProxy's combined files do).
    /// </summary>
    public static CertificateWithChain LoadCertificate(string certificateFile, string? keyFile) =>
        ParseCertificate(certificateFile, Read(certificateFile), keyFile, keyFile is null ? null : Read(keyFile, aboutKey: true));

    internal static CertificateWithChain ParseCertificate(string certificateFile, byte[] certificatePem, string? keyFile, byte[]? keyPem)
    {
        var certificateText = Text(certificateFile, certificatePem);
        var chain = Certificates(certificateFile, certificateText);
        var keyText = keyPem is null ? certificateText : Text(keyFile!, keyPem);
        var keySource = keyFile ?? certificateFile;
        if (keyText.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal) || keyText.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
        {
            throw new PemFileException(keySource, "holds an encrypted private key; give the key unencrypted (openssl pkey -in key.pem -out plain.pem) and protect the file instead", aboutKey: true);
        }

        if (!keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new PemFileException(keySource, keyFile is null
                ? "holds no private key (-----BEGIN PRIVATE KEY-----); name the key's own file too"
                : "holds no private key (-----BEGIN PRIVATE KEY-----)", aboutKey: true);
        }

        X509Certificate2 leaf;
        try
        {
            using var withEphemeralKey = X509Certificate2.CreateFromPem(certificateText, keyText);

            // Through PKCS#12 the key is a stored one, which SslStream can use on every platform.
            leaf = X509CertificateLoader.LoadPkcs12(withEphemeralKey.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            // A key of another certificate, or one that cannot be read: .NET does not tell them apart.
            throw new PemFileException(keySource, $"does not hold the key of the certificate in '{certificateFile}' ({ex.Message.ReplaceLineEndings(" ").TrimEnd('.')})", aboutKey: true);
        }

        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        chain[0].Dispose();
        return new CertificateWithChain(leaf, intermediates, SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
    }

    /// <summary>Every certificate of a PEM bundle (a CA file).</summary>
    public static X509Certificate2Collection LoadBundle(string file) => ParseBundle(file, Read(file));

    internal static X509Certificate2Collection ParseBundle(string file, byte[] pem) => Certificates(file, Text(file, pem));

    // How long a read may take: a FIFO with no writer, a device or a hung network mount blocks in
    // open() or read(), and nothing else would ever end the wait.
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    // Reads that did not end in time, by path: the next look at that path waits for the same read
    // rather than block another thread on it.
    private static readonly ConcurrentDictionary<string, Task<byte[]>> Stuck = new(StringComparer.Ordinal);

    /// <summary>The file's bytes (at most a megabyte and one), read within five seconds or refused.</summary>
    internal static byte[] Read(string file, bool aboutKey = false)
    {
        if (Directory.Exists(file))
        {
            throw new PemFileException(file, "is a directory, not a PEM file", aboutKey);
        }

        if (!File.Exists(file) && new FileInfo(file).LinkTarget is { } target)
        {
            throw new PemFileException(file, $"is a symbolic link to {target}, which does not lead to a file", aboutKey);
        }

        var read = Stuck.TryGetValue(file, out var stuck) ? stuck : Task.Run(() => ReadWhole(file));
        try
        {
            if (!read.Wait(stuck is null ? ReadTimeout : TimeSpan.Zero))
            {
                Stuck[file] = read;
                throw new PemFileException(file, $"could not be read within {ReadTimeout.TotalSeconds:0} s (a FIFO, a device or a hung mount?)", aboutKey);
            }
        }
        catch (AggregateException ex) when (ex.InnerException is IOException or UnauthorizedAccessException)
        {
            Stuck.TryRemove(file, out _);
            throw new PemFileException(file, $"cannot be read: {ex.InnerException.Message.TrimEnd('.')}", aboutKey);
        }

        Stuck.TryRemove(file, out _);
        return read.Result;
    }

    private static byte[] ReadWhole(string file)
    {
        // At most a megabyte and one byte: a device or a huge file named by mistake is refused, not read whole.
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var buffer = new byte[MaxFileLength + 1];
        var length = 0;
        int n;
        while (length < buffer.Length && (n = stream.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += n;
        }

        return buffer.AsSpan(0, length).ToArray();
    }

    private static string Text(string file, byte[] pem)
    {
        if (pem.Length > MaxFileLength)
        {
            throw new PemFileException(file, "is over a megabyte long; a PEM certificate or key file is a few kilobytes");
        }

        return Encoding.ASCII.GetString(pem);
    }

    // Every CERTIFICATE block, each one checked: X509Certificate2Collection.ImportFromPem passes a
    // block it cannot read by silently, and a half-written file would then be blamed on its key.
    private static X509Certificate2Collection Certificates(string file, string text)
    {
        var certificates = new X509Certificate2Collection();
        var rest = text.AsSpan();
        var seen = 0;
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label];
            if (label.SequenceEqual("CERTIFICATE"))
            {
                seen++;
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out _))
                {
                    throw new PemFileException(file, $"holds a certificate (block {seen}) that is not valid base64");
                }

                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificate(der));
                }
                catch (CryptographicException ex)
                {
                    throw new PemFileException(file, $"holds a certificate (block {seen}) that cannot be read ({ex.Message.TrimEnd('.')})");
                }
            }

            rest = rest[fields.Location.End..];
        }

        if (seen == 0)
        {
            throw new PemFileException(file, text.Contains(CertificateLabel, StringComparison.Ordinal)
                ? "holds no complete PEM certificate (a -----BEGIN CERTIFICATE----- without its END: written halfway?)"
                : "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        // A certificate block begun after the last whole one and never ended: the file is being written.
        if (rest.IndexOf(CertificateLabel, StringComparison.Ordinal) >= 0)
        {
            throw new PemFileException(file, "ends with an incomplete certificate (written halfway?)");
        }

        return certificates;
    }
}

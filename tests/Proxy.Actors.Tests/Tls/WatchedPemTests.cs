using Proxy.Actors.Tls;
using Proxy.Testing;
using Xunit;

namespace Proxy.Actors.Tests.Tls;

/// <summary>A certificate renewed under a running proxy: used once whole, never half-written.</summary>
public sealed class WatchedPemTests : IDisposable
{
    private readonly TestCertificates _ca = TestCertificates.Create();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void A_renewal_of_both_files_is_the_certificate_from_then_on()
    {
        var first = _ca.Server("site");
        var watched = WatchedCertificate.Open(first.CertificateFile, first.KeyFile);
        Assert.Equal(first.Certificate.Thumbprint, watched.Current.Leaf.Thumbprint);

        var renewed = _ca.Server("site");
        var change = watched.Refresh();

        Assert.True(change.Reloaded);
        Assert.Null(change.Problem);
        Assert.Equal(renewed.Certificate.Thumbprint, watched.Current.Leaf.Thumbprint);
        Assert.False(watched.Refresh().Reloaded);
    }

    [Fact]
    public void A_certificate_written_before_its_key_keeps_the_old_pair_until_the_key_arrives()
    {
        var first = _ca.Server("site");
        var watched = WatchedCertificate.Open(first.CertificateFile, first.KeyFile);
        var renewed = _ca.Server("renewed");

        // Half way through a renewal: the new certificate beside the old key.
        File.Copy(renewed.CertificateFile, first.CertificateFile, overwrite: true);
        var halfway = watched.Refresh();
        Assert.False(halfway.Reloaded);
        Assert.Contains("does not hold the key of the certificate", halfway.Problem, StringComparison.Ordinal);
        Assert.False(halfway.Repeated);
        Assert.True(watched.Refresh().Repeated);
        Assert.Equal(first.Certificate.Thumbprint, watched.Current.Leaf.Thumbprint);

        File.Copy(renewed.KeyFile, first.KeyFile, overwrite: true);
        Assert.True(watched.Refresh().Reloaded);
        Assert.Equal(renewed.Certificate.Thumbprint, watched.Current.Leaf.Thumbprint);
        Assert.Null(watched.Problem);
    }

    [Fact]
    public void A_user_of_Current_hears_of_each_renewal_and_each_new_problem_once()
    {
        var bundle = Path.Combine(_ca.Directory, "bundle.pem");
        File.Copy(_ca.CaFile, bundle);
        var heard = new List<WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>.Change>();
        var watched = new WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>(
            [(bundle, false)], bytes => PemFiles.ParseBundle(bundle, bytes[0]), heard.Add, checkEvery: TimeSpan.Zero);

        File.WriteAllText(bundle, "junk");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("CN=Test CA", Assert.Single(watched.Current).Subject);
        }

        File.Copy(_ca.Another("Next CA").CaFile, bundle, overwrite: true);
        Assert.Equal("CN=Next CA", Assert.Single(watched.Current).Subject);

        Assert.Equal(2, heard.Count);
        Assert.Contains("holds no PEM certificate", heard[0].Problem, StringComparison.Ordinal);
        Assert.True(heard[1].Reloaded);
    }

    [Fact]
    public void A_file_that_disappears_keeps_the_last_good_certificate_and_says_why()
    {
        var first = _ca.Server("site");
        var watched = WatchedCertificate.Open(first.CertificateFile, first.KeyFile);

        File.Delete(first.KeyFile);
        var change = watched.Refresh();

        Assert.Contains("cannot be read", change.Problem, StringComparison.Ordinal);
        Assert.Equal(first.Certificate.Thumbprint, watched.Current.Leaf.Thumbprint);
    }

    [Fact]
    public void The_chain_after_the_leaf_is_kept_as_its_intermediates()
    {
        var leaf = _ca.Server("site");
        var fullchain = Path.Combine(_ca.Directory, "fullchain.pem");
        File.WriteAllText(fullchain, File.ReadAllText(leaf.CertificateFile) + "\n" + File.ReadAllText(_ca.CaFile));

        var loaded = PemFiles.LoadCertificate(fullchain, leaf.KeyFile);

        Assert.Equal(leaf.Certificate.Thumbprint, loaded.Leaf.Thumbprint);
        Assert.True(loaded.Leaf.HasPrivateKey);
        Assert.Single(loaded.Intermediates);
    }

    [Fact]
    public void An_encrypted_key_is_refused_with_what_to_do()
    {
        var leaf = _ca.Server("site");
        var encrypted = Path.Combine(_ca.Directory, "encrypted.key");
        File.WriteAllText(encrypted, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");

        var ex = Assert.Throws<PemFileException>(() => PemFiles.LoadCertificate(leaf.CertificateFile, encrypted));

        Assert.True(ex.AboutKey);
        Assert.Contains("unencrypted", ex.Message, StringComparison.Ordinal);
    }
}

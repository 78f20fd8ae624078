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
    public void Its_timer_tells_of_a_broken_change_once_of_its_undoing_and_of_a_renewal()
    {
        var bundle = Path.Combine(_ca.Directory, "bundle.pem");
        File.Copy(_ca.CaFile, bundle);
        using var heard = new System.Collections.Concurrent.BlockingCollection<WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>.Change>();
        using var watched = WatchedBundle.Open(bundle, TimeSpan.FromMilliseconds(20));
        watched.Changed = heard.Add;

        File.WriteAllText(bundle, "junk");
        Assert.True(heard.TryTake(out var broken, TimeSpan.FromSeconds(10)));
        Assert.Contains("holds no PEM certificate", broken.Problem, StringComparison.Ordinal);
        Assert.Equal("CN=Test CA", Assert.Single(watched.Current).Subject);

        // File.Copy writes in place: the timer may first read it half written, a problem of its own.
        File.Copy(_ca.CaFile, bundle, overwrite: true);
        Assert.True(Next(heard, c => c.Recovered).Recovered);

        File.WriteAllText(bundle, "junk again");
        Assert.True(heard.TryTake(out var brokenAgain, TimeSpan.FromSeconds(10)));
        Assert.NotNull(brokenAgain.Problem);

        File.Copy(_ca.Another("Next CA").CaFile, bundle, overwrite: true);
        Assert.True(Next(heard, c => c.Reloaded).Reloaded);
        Assert.Equal("CN=Next CA", Assert.Single(watched.Current).Subject);
    }

    // The first change that satisfies the condition; those before it may only be problems (a half-written file).
    private static WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>.Change Next(
        System.Collections.Concurrent.BlockingCollection<WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>.Change> heard,
        Func<WatchedPem<System.Security.Cryptography.X509Certificates.X509Certificate2Collection>.Change, bool> wanted)
    {
        while (heard.TryTake(out var change, TimeSpan.FromSeconds(10)))
        {
            if (wanted(change))
            {
                return change;
            }

            Assert.NotNull(change.Problem);
        }

        throw new TimeoutException("the change never came");
    }

    [Fact]
    public void A_file_turned_into_a_FIFO_never_holds_a_reader_of_the_current_certificate()
    {
        var first = _ca.Server("site");
        using var watched = WatchedCertificate.Open(first.CertificateFile, first.KeyFile);
        File.Delete(first.CertificateFile);
        System.Diagnostics.Process.Start("mkfifo", [first.CertificateFile])!.WaitForExit();

        var change = watched.Refresh();
        var again = watched.Refresh();

        Assert.Contains("could not be read within 5 s", change.Problem, StringComparison.Ordinal);
        Assert.True(again.Repeated);
        Assert.Equal(first.Certificate.Thumbprint, watched.Current.Leaf.Thumbprint);

        // Unblock the read left waiting on the FIFO.
        using var writer = new FileStream(first.CertificateFile, FileMode.Open, FileAccess.Write);
    }

    [Fact]
    public void A_half_written_certificate_is_blamed_on_the_certificate_not_the_key()
    {
        var first = _ca.Server("site");
        File.WriteAllText(first.CertificateFile, File.ReadAllText(first.CertificateFile)[..200]);

        var ex = Assert.Throws<PemFileException>(() => PemFiles.LoadCertificate(first.CertificateFile, first.KeyFile));

        Assert.False(ex.AboutKey);
        Assert.Contains("without its END", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bundle_with_one_broken_block_among_good_ones_is_refused()
    {
        var bundle = Path.Combine(_ca.Directory, "bundle.pem");
        var good = File.ReadAllText(_ca.CaFile);
        File.WriteAllText(bundle, good + "\n-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n" + good);

        var ex = Assert.Throws<PemFileException>(() => PemFiles.LoadBundle(bundle));

        Assert.Contains("block 2", ex.Message, StringComparison.Ordinal);
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

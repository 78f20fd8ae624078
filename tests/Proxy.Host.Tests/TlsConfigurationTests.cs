using Microsoft.Extensions.Configuration;
using Proxy.Host.Configuration;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>Certificates and keys that cannot be used stop start-up with one line naming the key.</summary>
public sealed class TlsConfigurationTests : IDisposable
{
    private readonly TestCertificates _ca = TestCertificates.Create();
    private readonly IssuedCertificate _server;
    private readonly IssuedCertificate _other;

    public TlsConfigurationTests()
    {
        _server = _ca.Server("server");
        _other = _ca.Server("other");
    }

    public void Dispose() => _ca.Dispose();

    private static ProxySettings Create(params string[] args) =>
        ProxySettingsFactory.Create(new ConfigurationBuilder().AddCommandLine(args).Build());

    private static string[] HttpsNode(params string[] tls) =>
        ["--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://node.internal:8443", .. tls];

    private string[] Listener(string certificate, string? key) =>
        ["--Proxy:Listen=https://127.0.0.1:8443", $"--Proxy:Tls:CertificateFile={certificate}", .. key is null ? Array.Empty<string>() : [$"--Proxy:Tls:KeyFile={key}"], .. HttpsNode()];

    [Fact]
    public void A_missing_certificate_file_names_the_key_and_the_file()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(Listener("/nonexistent/cert.pem", _server.KeyFile)));

        Assert.Equal("Proxy:Tls:CertificateFile", ex.Key);
        Assert.Contains("'/nonexistent/cert.pem' cannot be read", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tls_between_the_members_needs_a_usable_certificate_and_the_fleets_ca_or_start_up_stops_naming_the_key()
    {
        string[] Member(params string[] tls) =>
            ["--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", "--Proxy:Cluster:Enabled=true", .. tls];

        var noCa = Assert.Throws<ProxyConfigurationException>(() => Create(Member($"--Proxy:Cluster:Tls:CertificateFile={_server.CertificateFile}", $"--Proxy:Cluster:Tls:KeyFile={_server.KeyFile}")));
        var noCertificate = Assert.Throws<ProxyConfigurationException>(() => Create(Member($"--Proxy:Cluster:Tls:CaFile={_ca.CaFile}")));
        var wrongKey = Assert.Throws<ProxyConfigurationException>(() => Create(Member(
            $"--Proxy:Cluster:Tls:CertificateFile={_server.CertificateFile}", $"--Proxy:Cluster:Tls:KeyFile={_other.KeyFile}", $"--Proxy:Cluster:Tls:CaFile={_ca.CaFile}")));
        var keyAsCa = Assert.Throws<ProxyConfigurationException>(() => Create(Member(
            $"--Proxy:Cluster:Tls:CertificateFile={_server.CertificateFile}", $"--Proxy:Cluster:Tls:KeyFile={_server.KeyFile}", $"--Proxy:Cluster:Tls:CaFile={_server.KeyFile}")));

        Assert.Equal("Proxy:Cluster:Tls:CaFile", noCa.Key);
        Assert.Equal("Proxy:Cluster:Tls:CertificateFile", noCertificate.Key);
        Assert.Equal("Proxy:Cluster:Tls:KeyFile", wrongKey.Key);
        Assert.Equal("Proxy:Cluster:Tls:CaFile", keyAsCa.Key);
        var settings = Create(Member($"--Proxy:Cluster:Tls:CertificateFile={_server.CertificateFile}", $"--Proxy:Cluster:Tls:KeyFile={_server.KeyFile}", $"--Proxy:Cluster:Tls:CaFile={_ca.CaFile}"));
        Assert.Equal(_ca.CaFile, settings.Cluster?.Tls?.CaFile);
    }

    [Fact]
    public void A_missing_or_directory_key_file_names_the_key_file()
    {
        var missing = Assert.Throws<ProxyConfigurationException>(() => Create(Listener(_server.CertificateFile, "/nonexistent/key.pem")));
        var directory = Assert.Throws<ProxyConfigurationException>(() => Create(Listener(_server.CertificateFile, _ca.Directory)));
        var client = Assert.Throws<ProxyConfigurationException>(() => Create(HttpsNode(
            $"--Proxy:Nodes:0:Tls:ClientCertificateFile={_server.CertificateFile}", "--Proxy:Nodes:0:Tls:ClientKeyFile=/nonexistent/key.pem")));

        Assert.Equal("Proxy:Tls:KeyFile", missing.Key);
        Assert.Equal("Proxy:Tls:KeyFile", directory.Key);
        Assert.Contains("is a directory", directory.Message, StringComparison.Ordinal);
        Assert.Equal("Proxy:Nodes:0:Tls:ClientKeyFile", client.Key);
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_names_the_key_file()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(Listener(_server.CertificateFile, _other.KeyFile)));

        Assert.Equal("Proxy:Tls:KeyFile", ex.Key);
        Assert.Contains("does not hold the key of the certificate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_file_without_a_key_and_no_key_file_says_to_name_one()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(Listener(_server.CertificateFile, null)));

        Assert.Equal("Proxy:Tls:CertificateFile", ex.Key);
        Assert.Contains("holds no private key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_combined_file_of_certificate_and_key_serves_alone()
    {
        var combined = Path.Combine(_ca.Directory, "combined.pem");
        File.WriteAllText(combined, File.ReadAllText(_server.CertificateFile) + "\n" + File.ReadAllText(_server.KeyFile));

        var settings = Create(Listener(combined, null));

        Assert.Equal(combined, settings.ListenerTls!.CertificateFile);
    }

    [Fact]
    public void A_key_file_given_as_the_certificate_says_it_holds_no_certificate()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(Listener(_server.KeyFile, _server.KeyFile)));

        Assert.Equal("Proxy:Tls:CertificateFile", ex.Key);
        Assert.Contains("holds no PEM certificate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_CA_file_that_is_not_PEM_names_the_nodes_key()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(HttpsNode($"--Proxy:Nodes:0:Tls:CaFile={_server.KeyFile}")));

        Assert.Equal("Proxy:Nodes:0:Tls:CaFile", ex.Key);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_client_key_that_is_not_the_client_certificates_names_the_key()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(HttpsNode(
            $"--Proxy:Nodes:0:Tls:ClientCertificateFile={_server.CertificateFile}", $"--Proxy:Nodes:0:Tls:ClientKeyFile={_other.KeyFile}")));

        Assert.Equal("Proxy:Nodes:0:Tls:ClientKeyFile", ex.Key);
    }

    [Theory]
    [InlineData("Proxy:Nodes:0:Tls", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", "--Proxy:Nodes:0:Tls:ServerName=x.internal")]
    [InlineData("Proxy:Nodes:0:Tls:Insecure", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://127.0.0.1:9", "--Proxy:Nodes:0:Tls:Insecure=true", "--Proxy:Nodes:0:Tls:CaFile=/etc/hosts")]
    [InlineData("Proxy:Nodes:0:Tls:Insecure", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://127.0.0.1:9", "--Proxy:Nodes:0:Tls:Insecure=perhaps")]
    [InlineData("Proxy:Nodes:0:Tls:ClientKeyFile", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://127.0.0.1:9", "--Proxy:Nodes:0:Tls:ClientKeyFile=/etc/hosts")]
    [InlineData("Proxy:Nodes:0:Tls:ServerName", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://127.0.0.1:9", "--Proxy:Nodes:0:Tls:ServerName=not a name")]
    [InlineData("Proxy:Nodes:0:Tls:CaFlie", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://127.0.0.1:9", "--Proxy:Nodes:0:Tls:CaFlie=/etc/hosts")]
    public void Node_tls_mistakes_are_refused_naming_the_key(string key, params string[] args)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(args));

        Assert.Equal(key, ex.Key);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Insecure_is_warned_about_at_start_up()
    {
        var settings = Create(HttpsNode("--Proxy:Nodes:0:Tls:Insecure=true"));

        Assert.Contains(settings.Warnings, w => w.Contains("Proxy:Nodes:0:Tls:Insecure is true", StringComparison.Ordinal) && w.Contains("not verified", StringComparison.Ordinal));
        Assert.True(settings.Nodes[0].Tls!.Insecure);
    }

    [Fact]
    public void An_https_node_found_by_DNS_is_verified_by_the_name_it_was_found_under()
    {
        var settings = Create("--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=https://billing.internal:8443", "--Proxy:Nodes:0:Resolve=true");

        Assert.Equal("billing.internal", settings.DiscoveredNodes[0].Template.Tls!.ServerName);
    }

    [Fact]
    public async Task An_unreadable_certificate_stops_the_process_with_one_line_and_exit_2()
    {
        var (exit, stdout, stderr) = await ProxyProcess.RunAsync(
            $"--Proxy:Listen=https://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}",
            "--Proxy:Tls:CertificateFile=/nonexistent/fullchain.pem", $"--Proxy:Tls:KeyFile={_server.KeyFile}",
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9");

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Proxy:Tls:CertificateFile: '/nonexistent/fullchain.pem' cannot be read", line, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }
}

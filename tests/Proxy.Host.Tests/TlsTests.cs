using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>
/// TLS on both sides through the real host: an https:// listener with a certificate from PEM files
/// (renewed without a restart), and https:// nodes verified against a CA file, by name, with a
/// client certificate when they require one. Certificates come from a CA made for each test.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private const string Call = "<?xml version=\"1.0\"?><methodCall><methodName>ping</methodName><params/></methodCall>";

    private readonly TestCertificates _ca = TestCertificates.Create();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task Python_xmlrpc_client_calls_through_the_https_listener_verifying_its_certificate_by_the_CA()
    {
        var listener = _ca.Server("listener");
        await using var node = await TestNode.StartAsync("n1");
        var port = FreePort.Next();
        await using var proxy = await ProxyHarness.StartAsync([node], ListenHttps(port, listener));

        var results = await PythonXmlRpcNode.CallAsync($"https://localhost:{port}/RPC2", _ca.CaFile, "ping", 3);

        Assert.All(results, r => Assert.Equal("n1", r.GetProperty("result").GetString()));
        Assert.All(node.Received, r => Assert.Equal("https", r.Headers["X-Forwarded-Proto"]));
    }

    [Fact]
    public async Task The_https_listener_speaks_TLS_1_2_or_later_and_offers_http_1_1_by_ALPN()
    {
        var listener = _ca.Server("listener");
        await using var node = await TestNode.StartAsync("n1");
        var port = FreePort.Next();
        await using var proxy = await ProxyHarness.StartAsync([node], ListenHttps(port, listener));

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => errors == SslPolicyErrors.RemoteCertificateChainErrors && _ca.Issued(new X509Certificate2(certificate!)),
        });

        Assert.Equal(SslApplicationProtocol.Http11, tls.NegotiatedApplicationProtocol);
        Assert.True(tls.SslProtocol is SslProtocols.Tls12 or SslProtocols.Tls13, $"negotiated {tls.SslProtocol}");
        Assert.Equal(listener.Certificate.Thumbprint, new X509Certificate2(tls.RemoteCertificate!).Thumbprint);
    }

    [Fact]
    public async Task Plain_http_sent_to_the_https_listener_gets_no_answer_and_the_listener_keeps_serving()
    {
        var listener = _ca.Server("listener");
        await using var node = await TestNode.StartAsync("n1");
        var port = FreePort.Next();
        await using var proxy = await ProxyHarness.StartAsync([node], ListenHttps(port, listener));

        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
            var buffer = new byte[1024];
            var read = await ReadOrClosedAsync(stream, buffer);
            Assert.DoesNotContain("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, read), StringComparison.Ordinal);
        }

        using var client = HttpsClient();
        using var answer = await client.PostAsync($"https://localhost:{port}/", new StringContent(Call));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal(0, node.Received.Count(r => r.Body.Length == 0));
    }

    [Fact]
    public async Task A_renewed_listener_certificate_reaches_new_connections_without_a_restart()
    {
        var first = _ca.Server("listener", subject: "localhost");
        await using var node = await TestNode.StartAsync("n1");
        var port = FreePort.Next();
        await using var proxy = await ProxyHarness.StartAsync([node], ListenHttps(port, first));
        Assert.Equal(first.Certificate.Thumbprint, await ListenerThumbprintAsync(port));

        // The renewal, as an ACME client writes it: the same two files, replaced.
        var renewed = _ca.Server("listener", subject: "localhost");

        await Eventually.AssertAsync(async () => Assert.Equal(renewed.Certificate.Thumbprint, await ListenerThumbprintAsync(port)), TimeSpan.FromSeconds(15));
        using var client = HttpsClient();
        using var answer = await client.PostAsync($"https://localhost:{port}/", new StringContent(Call));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task A_python_https_node_is_verified_against_the_CA_file_and_answers()
    {
        var certificate = _ca.Server("python-node");
        await using var node = await PythonXmlRpcNode.StartHttpsAsync("py1", certificate.CertificateFile, certificate.KeyFile);
        await using var proxy = await ProxyHarness.StartAsync([("py1", node.Address)], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}");

        var results = await PythonXmlRpcNode.CallAsync(proxy.Client.BaseAddress + "RPC2", "ping", 3);

        Assert.All(results, r => Assert.Equal("py1", r.GetProperty("result").GetString()));
        Assert.Equal(0, (await proxy.NodesAsync())["py1"].GetProperty("failures").GetInt64());
    }

    [Fact]
    public async Task A_node_whose_certificate_another_CA_issued_is_a_502_counted_against_it_with_the_reason()
    {
        var rogue = _ca.Another("Rogue CA").Server("rogue");
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificate = rogue.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([node], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        Assert.Empty(node.Received);
        await proxy.AwaitNodeAsync("n1", n =>
        {
            Assert.Equal(1, n.GetProperty("failures").GetInt64());
            var failure = n.GetProperty("lastFailure");
            Assert.Equal("tls-failed", failure.GetProperty("kind").GetString());
            Assert.Contains("CN=Rogue CA is not trusted by the CA file", failure.GetProperty("reason").GetString(), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_CA_file_holding_only_an_intermediate_is_refused_saying_the_root_is_needed()
    {
        var intermediate = _ca.Intermediate("Issuing CA");
        var certificate = intermediate.Server("node");
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificate = certificate.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([node], $"--Proxy:Nodes:0:Tls:CaFile={intermediate.CaFile}");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        await proxy.AwaitNodeAsync("n1", n => Assert.Contains(
            "the CA file holds CN=Issuing CA, which is not a root CA", n.GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_node_sending_its_intermediate_is_verified_against_the_root_in_the_CA_file()
    {
        var intermediate = _ca.Intermediate("Issuing CA");
        var certificate = intermediate.Server("node");
        var chain = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection(
            System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(intermediate.CaFile));
        await using var node = await TestNode.StartHttpsAsync("n1", https =>
        {
            https.ServerCertificate = certificate.Certificate;
            https.ServerCertificateChain = chain;
        });
        await using var proxy = await ProxyHarness.StartAsync([node], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task A_CA_file_broken_when_the_node_is_first_dialled_is_read_again_once_it_is_whole()
    {
        var certificate = _ca.Server("node");
        var caFile = Path.Combine(_ca.Directory, "rotating-ca.pem");
        File.Copy(_ca.CaFile, caFile);
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificate = certificate.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([node], $"--Proxy:Nodes:0:Tls:CaFile={caFile}", "--Proxy:Circuit:FailureThreshold=100");

        // A rotation caught halfway, before the first connection to the node.
        File.WriteAllText(caFile, "-----BEGIN CERTIFICATE-----\nMIIB");
        using (var broken = await proxy.Client.PostAsync("/RPC2", new StringContent(Call)))
        {
            Assert.Equal(HttpStatusCode.BadGateway, broken.StatusCode);
        }

        await proxy.AwaitNodeAsync("n1", n => Assert.Contains("the CA file cannot be used", n.GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal));
        File.Copy(_ca.CaFile, caFile, overwrite: true);

        await Eventually.AssertAsync(async () =>
        {
            using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        });
    }

    [Fact]
    public async Task A_node_that_never_finishes_the_handshake_is_cut_at_the_connect_timeout_as_a_tls_failure()
    {
        // Accepts the connection and says nothing: a handshake that never ends.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = new List<TcpClient>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                try
                {
                    accepted.Add(await silent.AcceptTcpClientAsync());
                }
                catch (Exception)
                {
                    return;
                }
            }
        });
        await using var proxy = await ProxyHarness.StartAsync([("mute", $"https://127.0.0.1:{port}")], "--Proxy:Timeouts:Connect=1s");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        await proxy.AwaitNodeAsync("mute", n =>
        {
            Assert.Equal("tls-failed", n.GetProperty("lastFailure").GetProperty("kind").GetString());
            Assert.Contains("the handshake did not finish within the connect timeout", n.GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal);
        });
        silent.Stop();
        accepted.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task A_POST_refused_by_one_nodes_certificate_is_redispatched_because_nothing_was_sent()
    {
        var rogue = _ca.Another("Rogue CA").Server("rogue");
        var good = _ca.Server("good");
        await using var bad = await TestNode.StartHttpsAsync("bad", https => https.ServerCertificate = rogue.Certificate);
        await using var fine = await TestNode.StartHttpsAsync("fine", https => https.ServerCertificate = good.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([bad, fine], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}", $"--Proxy:Nodes:1:Tls:CaFile={_ca.CaFile}");

        for (var i = 0; i < 6; i++)
        {
            using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Contains("fine", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Empty(bad.Received);
    }

    [Fact]
    public async Task A_certificate_for_another_name_than_Tls_ServerName_is_refused_naming_both()
    {
        var certificate = _ca.Server("node", names: ["localhost", "127.0.0.1"]);
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificate = certificate.Certificate);
        await using var proxy = await ProxyHarness.StartAsync(
            [node], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}", "--Proxy:Nodes:0:Tls:ServerName=billing.internal");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        await proxy.AwaitNodeAsync("n1", n => Assert.Contains(
            "it names 'localhost', '127.0.0.1', not 'billing.internal'", n.GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_clients_Host_header_does_not_choose_the_name_a_nodes_certificate_is_checked_against()
    {
        // The node is dialled as 127.0.0.1, which its certificate does not name.
        var certificate = _ca.Server("node", names: ["billing.internal"]);
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificate = certificate.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([node], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/RPC2") { Content = new StringContent(Call) };
        request.Headers.Host = "billing.internal";
        using var answer = await proxy.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        Assert.Empty(node.Received);
    }

    [Fact]
    public async Task Tls_ServerName_is_sent_as_SNI_and_verified_when_the_node_is_dialled_by_IP()
    {
        var certificate = _ca.Server("node", names: ["billing.internal"]);
        string? sniSeen = null;
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificateSelector = (_, name) =>
        {
            sniSeen = name;
            return certificate.Certificate;
        });
        await using var proxy = await ProxyHarness.StartAsync(
            [node], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}", "--Proxy:Nodes:0:Tls:ServerName=billing.internal");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("billing.internal", sniSeen);
    }

    [Fact]
    public async Task A_node_that_requires_a_client_certificate_gets_the_configured_one_and_without_it_is_a_failure()
    {
        var server = _ca.Server("node");
        var client = _ca.Client("proxy-client", "proxy-client");
        await using var node = await TestNode.StartHttpsAsync("n1", https =>
        {
            https.ServerCertificate = server.Certificate;
            https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate;
            https.ClientCertificateValidation = (certificate, _, _) => _ca.Issued(certificate);
        });

        await using (var proxy = await ProxyHarness.StartAsync(
            [node],
            $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}",
            $"--Proxy:Nodes:0:Tls:ClientCertificateFile={client.CertificateFile}",
            $"--Proxy:Nodes:0:Tls:ClientKeyFile={client.KeyFile}"))
        {
            using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("CN=proxy-client", Assert.Single(node.Received).ClientCertificate);
        }

        await using (var proxy = await ProxyHarness.StartAsync([node], $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}"))
        {
            using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
            await proxy.AwaitNodeAsync("n1", n =>
            {
                Assert.Equal(1, n.GetProperty("failures").GetInt64());
                // Under TLS 1.3 the node refuses after the proxy's side of the handshake is complete.
                Assert.Equal("dropped", n.GetProperty("lastFailure").GetProperty("kind").GetString());
                Assert.Contains("Tls:ClientCertificateFile", n.GetProperty("lastFailure").GetProperty("reason").GetString(), StringComparison.Ordinal);
            });
        }

        Assert.Single(node.Received);
    }

    [Fact]
    public async Task A_python_node_requiring_mutual_TLS_accepts_the_proxys_client_certificate()
    {
        var server = _ca.Server("python-node");
        var client = _ca.Client("proxy-client", "proxy-client");
        await using var node = await PythonXmlRpcNode.StartHttpsAsync("py1", server.CertificateFile, server.KeyFile, clientCaFile: _ca.CaFile);
        await using var proxy = await ProxyHarness.StartAsync(
            [("py1", node.Address)],
            $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}",
            $"--Proxy:Nodes:0:Tls:ClientCertificateFile={client.CertificateFile}",
            $"--Proxy:Nodes:0:Tls:ClientKeyFile={client.KeyFile}");

        var results = await PythonXmlRpcNode.CallAsync(proxy.Client.BaseAddress + "RPC2", "ping", 2);

        Assert.All(results, r => Assert.Equal("py1", r.GetProperty("result").GetString()));
    }

    [Fact]
    public async Task Tls_Insecure_accepts_any_certificate()
    {
        var rogue = _ca.Another("Rogue CA").Server("rogue", names: ["elsewhere.example"]);
        await using var node = await TestNode.StartHttpsAsync("n1", https => https.ServerCertificate = rogue.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([node], "--Proxy:Nodes:0:Tls:Insecure=true");

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task An_https_node_added_through_the_admin_API_is_verified_with_its_tls_settings()
    {
        var certificate = _ca.Server("node");
        await using var first = await TestNode.StartAsync("n1");
        await using var node = await TestNode.StartHttpsAsync("n2", https => https.ServerCertificate = certificate.Certificate);
        await using var proxy = await ProxyHarness.StartAsync([first]);

        using var added = await proxy.Debug.PostAsync("/debug/nodes", new StringContent(
            $$$"""{"name":"n2","address":"{{{node.Address}}}","tls":{"caFile":"{{{_ca.CaFile}}}"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        using (await proxy.Debug.PostAsync("/debug/nodes/n1/drain", null))
        {
        }

        using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains("n2", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_README_setup_runs_a_demo_node_over_https_behind_an_https_listener_and_an_https_debug_listener()
    {
        var proxyCertificate = _ca.Server("proxy");
        var nodeCertificate = _ca.Server("node");
        var nodePort = FreePort.Next();
        await using var node = ProxyProcess.Start(
            "--demo-node", "--Demo:Name=tls-node", $"--Demo:Listen=https://127.0.0.1:{nodePort}",
            $"--Demo:CertificateFile={nodeCertificate.CertificateFile}", $"--Demo:KeyFile={nodeCertificate.KeyFile}");
        var port = FreePort.Next();
        var debugPort = FreePort.Next();
        await using var proxy = ProxyProcess.Start(
            $"--Proxy:Listen=https://127.0.0.1:{port}", $"--Proxy:Debug:Listen=https://127.0.0.1:{debugPort}",
            $"--Proxy:Tls:CertificateFile={proxyCertificate.CertificateFile}", $"--Proxy:Tls:KeyFile={proxyCertificate.KeyFile}",
            "--Proxy:Nodes:0:Name=tls-node", $"--Proxy:Nodes:0:Address=https://localhost:{nodePort}", $"--Proxy:Nodes:0:Tls:CaFile={_ca.CaFile}");
        using var client = HttpsClient();

        await Eventually.AssertAsync(
            async () =>
            {
                using var answer = await client.PostAsync($"https://localhost:{port}/RPC2", new StringContent(Call));
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                Assert.Contains("tls-node handled /RPC2", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            },
            TimeSpan.FromSeconds(60));
        var nodes = await client.GetStringAsync($"https://localhost:{debugPort}/debug/nodes");
        Assert.Contains("\"name\":\"tls-node\"", nodes, StringComparison.Ordinal);
        Assert.Contains("https:// listeners serve the certificate CN=localhost", proxy.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_admin_API_names_a_mistyped_tls_field_in_the_bodys_own_terms()
    {
        await using var first = await TestNode.StartAsync("n1");
        await using var proxy = await ProxyHarness.StartAsync([first]);

        using var typo = await proxy.Debug.PostAsync("/debug/nodes", new StringContent(
            """{"name":"n2","address":"https://127.0.0.1:9","tls":{"caFil":"/etc/ssl/ca.pem"}}""", Encoding.UTF8, "application/json"));
        using var wrongType = await proxy.Debug.PostAsync("/debug/nodes", new StringContent(
            """{"name":"n2","address":"https://127.0.0.1:9","tls":{"insecure":"yes"}}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.Contains("tls.caFil is not a field", await typo.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("tls.insecure has a value of the wrong type", await wrongType.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("Proxy.Host", await typo.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string[] ListenHttps(int port, IssuedCertificate certificate) =>
    [
        $"--Proxy:Listen=https://127.0.0.1:{port}",
        $"--Proxy:Tls:CertificateFile={certificate.CertificateFile}",
        $"--Proxy:Tls:KeyFile={certificate.KeyFile}",
    ];

    private HttpClient HttpsClient() => new(new SocketsHttpHandler
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && _ca.Issued(new X509Certificate2(certificate!)),
        },
    });

    // A new connection's view of the listener's certificate.
    private async Task<string> ListenerThumbprintAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, certificate, _, _) => _ca.Issued(new X509Certificate2(certificate!)),
        });
        return new X509Certificate2(tls.RemoteCertificate!).Thumbprint;
    }

    private static async Task<int> ReadOrClosedAsync(NetworkStream stream, byte[] buffer)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            return await stream.ReadAsync(buffer, timeout.Token);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

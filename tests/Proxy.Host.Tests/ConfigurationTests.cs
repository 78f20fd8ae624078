using Microsoft.Extensions.Configuration;
using Proxy.Actors.Classification;
using Proxy.Host.Classification;
using Proxy.Host.Configuration;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class ConfigurationTests
{
    private static readonly string[] OneNode = ["--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9"];

    private static ProxySettings Create(params string[] args) =>
        ProxySettingsFactory.Create(new ConfigurationBuilder().AddCommandLine(args).Build());

    [Theory]
    [InlineData("Proxy:Nodes", new string[0])]
    [InlineData("Proxy:Nodes:1:Name", new[] { "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:1", "--Proxy:Nodes:1:Name=A", "--Proxy:Nodes:1:Address=http://127.0.0.1:2" })]
    [InlineData("Proxy:Nodes:0:Name", new[] { "--Proxy:Nodes:0:Address=http://127.0.0.1:1" })]
    [InlineData("Proxy:Nodes:0:Address", new[] { "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=ftp://x" })]
    [InlineData("Proxy:Nodes:0:Address", new[] { "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=unix:relative.sock" })]
    [InlineData("Proxy:Nodes:0:Weight", new[] { "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:1", "--Proxy:Nodes:0:Weight=257" })]
    [InlineData("Proxy:Nodes:0:Weight", new[] { "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:1", "--Proxy:Nodes:0:Weight=0" })]
    [InlineData("Proxy:Nodes:0:Weight", new[] { "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:1", "--Proxy:Nodes:0:Weight=heavy" })]
    [InlineData("Proxy:Nodes:0:Address", new[] { "--Proxy:Listen=http://0.0.0.0:8000", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:8000" })]
    [InlineData("Proxy:Nodes:0:Address", new[] { "--Proxy:Listen=http://127.0.0.1:8000", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://localhost:8000/RPC2" })]
    [InlineData("Proxy:Nodes:1:Address", new[] { "--Proxy:Listen=http://[::]:8000;http://127.0.0.1:8100", "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9001", "--Proxy:Nodes:1:Name=b", "--Proxy:Nodes:1:Address=http://[::1]:8000" })]
    public void Invalid_nodes_are_refused_naming_the_key(string key, string[] args)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(args));

        Assert.Equal(key, ex.Key);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Theory]
    [InlineData("Proxy:Classifiers:0:Pattern", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=BodyRegex", "--Proxy:Classifiers:0:Verdict=Overloaded", "--Proxy:Classifiers:0:Pattern=(unclosed")]
    [InlineData("Proxy:Classifiers:0:Pattern", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=BodyRegex", "--Proxy:Classifiers:0:Verdict=Overloaded")]
    [InlineData("Proxy:Classifiers:0:Type", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=Psychic", "--Proxy:Classifiers:0:Verdict=Overloaded")]
    [InlineData("Proxy:Classifiers:0:Verdict", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=Status", "--Proxy:Classifiers:0:Codes:0=503", "--Proxy:Classifiers:0:Verdict=Maybe")]
    [InlineData("Proxy:Classifiers:0:Codes", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=Status", "--Proxy:Classifiers:0:Verdict=Failed")]
    [InlineData("Proxy:Classifiers:0:Codes", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=XmlRpcFault", "--Proxy:Classifiers:0:Verdict=Overloaded")]
    [InlineData("Proxy:Classifiers:0:Codes:0", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=XmlRpcFault", "--Proxy:Classifiers:0:Codes:0=busy", "--Proxy:Classifiers:0:Verdict=Overloaded")]
    [InlineData("Proxy:Classifiers:0:Patern", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=BodyRegex", "--Proxy:Classifiers:0:Verdict=Overloaded", "--Proxy:Classifiers:0:Pattern=busy", "--Proxy:Classifiers:0:Patern=busier")]
    [InlineData("Proxy:Classifiers:0:Limits", "--Proxy:Classifiers:0:Name=x", "--Proxy:Classifiers:0:Type=XmlRpcFault", "--Proxy:Classifiers:0:Verdict=Overloaded", "--Proxy:Classifiers:0:Codes:0=1007", "--Proxy:Classifiers:0:Limits:Max=3")]
    [InlineData("Proxy:Limits:KeepAliveTimeout", "--Proxy:Limits:KeepAliveTimeout=00:00:00")]
    [InlineData("Proxy:Limits:KeepAliveTimeout", "--Proxy:Limits:KeepAliveTimeout=forever")]
    [InlineData("Proxy:Limits:MaxConnections", "--Proxy:Limits:MaxConnections=0")]
    [InlineData("Proxy:Limits:MaxConnections", "--Proxy:Limits:MaxConnections=many")]
    [InlineData("Proxy:Limits:FaultBuffer", "--Proxy:Limits:FaultBuffer=-1")]
    [InlineData("Proxy:Limits:FaultBuffer", "--Proxy:Limits:FaultBuffer=1MB")]
    [InlineData("Proxy:Overload:RestoreInterval", "--Proxy:Overload:RestoreInterval=-00:00:01")]
    [InlineData("Proxy:Timeouts:Response", "--Proxy:Timeouts:Response=soon")]
    [InlineData("Proxy:Shutdown:Drain", "--Proxy:Shutdown:Drain=30.00:00:00")]
    [InlineData("Proxy:Redispatch:Max", "--Proxy:Redispatch:Max=-1")]
    [InlineData("Proxy:Tuning:BatchScheduleSocketThreads", "--Proxy:Tuning:BatchScheduleSocketThreads=sometimes")]
    [InlineData("Proxy:Tls:CertificateFile", "--Proxy:Listen=https://0.0.0.0:8443")]
    [InlineData("Proxy:Listen", "--Proxy:Listen=ftp://0.0.0.0:8443")]
    [InlineData("Proxy:Debug:Listen", "--Proxy:Listen=http://127.0.0.1:8000", "--Proxy:Debug:Listen=http://127.0.0.1:8000")]
    public void Invalid_settings_are_refused_naming_the_key(string key, params string[] args)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create([.. OneNode, .. args]));

        Assert.Equal(key, ex.Key);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_mistyped_setting_of_a_built_in_rule_is_named_with_the_nearest_one()
    {
        // Code for Codes: the rule would otherwise stop with "at least one code is required", or,
        // with Codes also given, silently ignore the codes the operator meant to add.
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create(
            [.. OneNode, "--Proxy:Classifiers:0:Name=shed", "--Proxy:Classifiers:0:Type=Status", "--Proxy:Classifiers:0:Verdict=Overloaded", "--Proxy:Classifiers:0:Codes:0=503", "--Proxy:Classifiers:0:Code:0=429"]));

        Assert.Equal("Proxy:Classifiers:0:Code", ex.Key);
        Assert.Contains("is not a setting of a Status rule; did you mean Codes? its settings are Name, Type, Verdict, Codes", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8000", "http://127.0.0.2:8000")]
    [InlineData("http://127.0.0.1:8000", "http://127.0.0.1:8001")]
    [InlineData("http://10.1.2.3:8000", "http://127.0.0.1:8000")]
    public void A_node_at_another_address_or_port_than_the_listeners_is_taken(string listen, string node)
    {
        var settings = Create("--Proxy:Listen=" + listen, "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=" + node);

        Assert.Equal(node, Assert.Single(settings.Nodes).Address.Original);
    }

    [Fact]
    public void A_node_named_by_this_machines_own_host_name_at_a_listener_port_is_refused()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create("--Proxy:Listen=http://0.0.0.0:8000", "--Proxy:Nodes:0:Name=a", $"--Proxy:Nodes:0:Address=http://{System.Net.Dns.GetHostName()}:8000"));

        Assert.Equal("Proxy:Nodes:0:Address", ex.Key);
    }

    [Fact]
    public void A_node_address_with_credentials_is_refused_without_repeating_them()
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create("--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://admin:s3cret@10.0.0.5:8001/RPC2"));

        Assert.Equal("Proxy:Nodes:0:Address", ex.Key);
        Assert.DoesNotContain("s3cret", ex.Message, StringComparison.Ordinal);
        Assert.Contains("http://***@10.0.0.5:8001/RPC2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_follow_the_spec()
    {
        var settings = Create(OneNode);

        Assert.Equal(128, settings.Nodes[0].Weight);
        Assert.Equal(1, settings.Requests.MaxRedispatch);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.RestoreInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Forwarding.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Forwarding.ResponseTimeout);
        Assert.Equal(8000, Assert.Single(settings.Listen).Port);
        Assert.Equal("127.0.0.1", settings.DebugListen.Host);
        var rule = Assert.Single(settings.Classifiers);
        Assert.Equal(("xmlrpc-overload", typeof(XmlRpcFaultClassifier)), (rule.Name, rule.Props.Type));
        Assert.NotNull(rule.NeedsWholeAnswer);
        Assert.Equal(64 * 1024, settings.Forwarding.ResponseBufferLimit);
        Assert.Equal(1024 * 1024, settings.Forwarding.FaultBufferLimit);
        Assert.Empty(settings.Warnings);
        Assert.True(settings.BatchScheduleSocketThreads);
        Assert.False(Create([.. OneNode, "--Proxy:Tuning:BatchScheduleSocketThreads=false"]).BatchScheduleSocketThreads);
    }

    [Fact]
    public void A_configured_classifier_chain_replaces_the_default_in_order()
    {
        var settings = Create([.. OneNode,
            "--Proxy:Classifiers:0:Name=gw", "--Proxy:Classifiers:0:Type=Status", "--Proxy:Classifiers:0:Codes:0=502", "--Proxy:Classifiers:0:Verdict=Failed",
            "--Proxy:Classifiers:1:Name=shed", "--Proxy:Classifiers:1:Type=Header", "--Proxy:Classifiers:1:Header=X-Load", "--Proxy:Classifiers:1:Pattern=shed", "--Proxy:Classifiers:1:Verdict=Overloaded"]);

        Assert.Equal(["gw", "shed"], settings.Classifiers.Select(r => r.Name));
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("1500ms", 1500)]
    [InlineData("2s", 2000)]
    [InlineData("1.5s", 1500)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("00:00:05", 5000)]
    [InlineData("00:00:00.250", 250)]
    public void Durations_are_written_as_operators_write_them(string text, int milliseconds)
    {
        var settings = Create([.. OneNode, $"--Proxy:Overload:RestoreInterval={text}", $"--Proxy:Timeouts:Response={text}", $"--Proxy:Cluster:StableAfter={text}"]);

        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), settings.RestoreInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), settings.Forwarding.ResponseTimeout);
    }

    [Theory]
    [InlineData("Proxy:Overload:RestoreInterval", "3")]
    [InlineData("Proxy:Timeouts:Connect", "5 seconds")]
    [InlineData("Proxy:Limits:KeepAliveTimeout", "10d")]
    [InlineData("Proxy:Cluster:StableAfter", "7")]
    public void A_bare_number_or_an_unknown_unit_is_refused_naming_the_key(string key, string value)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create([.. OneNode, $"--{key}={value}"]));

        Assert.Equal(key, ex.Key);
        Assert.Contains("500ms, 30s, 5m, 1h", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Proxy:Overload:RestoreIntervall=00:00:05", "Proxy:Overload:RestoreIntervall", "did you mean Proxy:Overload:RestoreInterval?")]
    [InlineData("--Proxy:Nodes:0:Wieght=64", "Proxy:Nodes:0:Wieght", "did you mean Proxy:Nodes:0:Weight?")]
    [InlineData("--Proxy:Limit:MaxRequestBody=1000", "Proxy:Limit:MaxRequestBody", "did you mean Proxy:Limits:MaxRequestBody?")]
    [InlineData("--Proxy:Colour=blue", "Proxy:Colour", "is not a setting")]
    [InlineData("--Proxi:Listen=http://0.0.0.0:8000", "Proxi", "did you mean Proxy?")]
    public void An_unknown_key_is_refused_naming_it_and_the_nearest_known_one(string arg, string key, string message)
    {
        var ex = Assert.Throws<ProxyConfigurationException>(() => Create([.. OneNode, arg]));

        Assert.Equal(key, ex.Key);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_classifier_entry_holds_its_own_types_settings_and_other_sections_are_left_alone()
    {
        var settings = Create([.. OneNode,
            "--Proxy:Classifiers:0:Name=busy", "--Proxy:Classifiers:0:Type=JsonRpcError", "--Proxy:Classifiers:0:Code=-32000", "--Proxy:Classifiers:0:Verdict=Overloaded",
            "--Serilog:MinimumLevel:Default=Warning", "--PROXY_HOST=unrelated"]);

        Assert.Equal("busy", Assert.Single(settings.Classifiers).Name);
    }

    [Fact]
    public void The_demo_nodes_listen_on_9001_and_9002_unless_Demo_Ports_names_two_others()
    {
        var standard = Create("--Proxy:Demo=true");
        Assert.Equal(["http://127.0.0.1:9001", "http://127.0.0.1:9002"], standard.DemoNodes.Select(n => n.Address));
        Assert.Equal(["demo-1", "demo-2"], standard.Nodes.Select(n => n.Name));
        Assert.Equal(["http://127.0.0.1:9001", "http://127.0.0.1:9002"], standard.Nodes.Select(n => n.Address.Original));

        var moved = Create("--Proxy:Demo=true", "--Demo:Ports:0=7601", "--Demo:Ports:1=7602");
        Assert.Equal([("demo-1", "http://127.0.0.1:7601"), ("demo-2", "http://127.0.0.1:7602")], moved.DemoNodes);
        Assert.Equal(["http://127.0.0.1:7601", "http://127.0.0.1:7602"], moved.Nodes.Select(n => n.Address.Original));

        Assert.Equal("Demo:Ports:1", Assert.Throws<ProxyConfigurationException>(() => Create("--Proxy:Demo=true", "--Demo:Ports:0=7601", "--Demo:Ports:1=70000")).Key);
        Assert.Equal("Demo:Ports", Assert.Throws<ProxyConfigurationException>(() => Create("--Proxy:Demo=true", "--Demo:Ports:0=7601")).Key);
    }

    [Fact]
    public void The_default_rule_can_be_configured_with_its_codes()
    {
        var settings = Create([.. OneNode,
            "--Proxy:Classifiers:0:Name=busy", "--Proxy:Classifiers:0:Type=XmlRpcFault", "--Proxy:Classifiers:0:Codes:0=1007", "--Proxy:Classifiers:0:Codes:1=-32001", "--Proxy:Classifiers:0:Verdict=Overloaded"]);

        var rule = Assert.Single(settings.Classifiers);
        Assert.Equal(("busy", typeof(XmlRpcFaultClassifier)), (rule.Name, rule.Props.Type));
        Assert.NotNull(rule.NeedsWholeAnswer);
    }

    [Fact]
    public void A_pattern_that_needs_backtracking_is_accepted_with_a_warning_naming_its_key()
    {
        var settings = Create([.. OneNode,
            "--Proxy:Classifiers:0:Name=linear", "--Proxy:Classifiers:0:Type=BodyRegex", "--Proxy:Classifiers:0:Pattern=faultCode.+value.+i4.+1007.+i4", "--Proxy:Classifiers:0:Verdict=Overloaded",
            "--Proxy:Classifiers:1:Name=backref", "--Proxy:Classifiers:1:Type=BodyRegex", @"--Proxy:Classifiers:1:Pattern=(busy)\1", "--Proxy:Classifiers:1:Verdict=Overloaded"]);

        var warning = Assert.Single(settings.Warnings);
        Assert.StartsWith("Proxy:Classifiers:1:Pattern:", warning, StringComparison.Ordinal);
        Assert.Contains("backtracking", warning, StringComparison.Ordinal);
        // The backtracking rule runs on its own thread, never on the pool that serves the requests.
        Assert.Equal(ClassifierTypes.SlowRulesDispatcher, settings.Classifiers[1].Props.Dispatcher);
        Assert.NotEqual(ClassifierTypes.SlowRulesDispatcher, settings.Classifiers[0].Props.Dispatcher);
    }

    [Fact]
    public void A_fault_buffer_below_the_response_buffer_is_raised_to_it()
    {
        var settings = Create([.. OneNode, "--Proxy:Limits:ResponseBuffer=131072", "--Proxy:Limits:FaultBuffer=1024"]);

        Assert.Equal(131072, settings.Forwarding.FaultBufferLimit);
    }

    [Fact]
    public void Nodes_can_come_from_environment_variables()
    {
        Environment.SetEnvironmentVariable("PROXYTEST_Proxy__Nodes__0__Name", "env-node");
        Environment.SetEnvironmentVariable("PROXYTEST_Proxy__Nodes__0__Address", "unix:/run/node.sock");
        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables("PROXYTEST_").Build();

            var node = Assert.Single(ProxySettingsFactory.Create(configuration).Nodes);

            Assert.Equal("env-node", node.Name);
            Assert.Equal("/run/node.sock", node.Address.UnixSocketPath);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PROXYTEST_Proxy__Nodes__0__Name", null);
            Environment.SetEnvironmentVariable("PROXYTEST_Proxy__Nodes__0__Address", null);
        }
    }

    [Fact]
    public async Task The_proxys_own_log_goes_to_the_Serilog_sinks_the_configuration_names()
    {
        var directory = Directory.CreateTempSubdirectory("proxy-serilog-").FullName;
        try
        {
            var file = Path.Combine(directory, "proxy.log");
            await using (await ProxyHarness.StartAsync([("a", "http://127.0.0.1:9")],
                "--Serilog:MinimumLevel:Default=Information", "--Serilog:Using:0=Serilog.Sinks.File",
                "--Serilog:WriteTo:0:Name=File", $"--Serilog:WriteTo:0:Args:path={file}"))
            {
            }

            Assert.Contains("Application started", File.ReadAllText(file), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_proxy_logs_under_its_own_classes_so_one_component_can_be_quieted()
    {
        await using var n1 = await TestNode.StartAsync("n1");
        await using var n2 = await TestNode.StartAsync("n2");
        n1.Overload();
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={n1.Address}", "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={n2.Address}",
            "--Serilog:MinimumLevel:Override:Proxy.Actors.Nodes=Warning");
        await proxy.WaitUntilServingAsync();
        using var debug = new HttpClient { BaseAddress = proxy.Debug };
        using var client = new HttpClient { BaseAddress = proxy.Client };

        // An operator's drain is told at Information, quieted here; an overload mark at Warning.
        using (await debug.PostAsync("/debug/nodes/n2/drain", null))
        {
        }

        using (await client.PostAsync("/RPC2", new StringContent("<?xml version=\"1.0\"?><methodCall><methodName>ping</methodName></methodCall>")))
        {
        }

        await proxy.WaitForOutputAsync("WRN] Proxy.Actors.Nodes.NodeActor: Node n1 marked overloaded");
        Assert.DoesNotContain("drained by an operator", proxy.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_host_that_resolves_to_nothing_is_named_at_start_up_and_when_a_reload_adds_one_and_the_proxy_still_serves()
    {
        await using var n1 = await TestNode.StartAsync("n1");
        using var file = new ConfigFile();
        file.Write($"{{\"Proxy\":{{\"Nodes\":[{{\"Name\":\"n1\",\"Address\":\"{n1.Address}\"}},{{\"Name\":\"typo\",\"Address\":\"http://no-such-node.invalid:8001\"}}]}}}}");
        await using var proxy = ProxyProcess.Start("--config", file.Path);
        await proxy.WaitUntilServingAsync();

        await proxy.WaitForOutputAsync("Node typo: host 'no-such-node.invalid' does not resolve (");
        using var client = new HttpClient { BaseAddress = proxy.Client };
        for (var i = 0; i < 4; i++)
        {
            using var answer = await client.GetAsync("/item");
            Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
        }

        file.Write($"{{\"Proxy\":{{\"Nodes\":[{{\"Name\":\"n1\",\"Address\":\"{n1.Address}\"}},{{\"Name\":\"typo\",\"Address\":\"http://no-such-node.invalid:8001\"}},{{\"Name\":\"later\",\"Address\":\"http://another-typo.invalid\"}}]}}}}");
        await proxy.WaitForOutputAsync("Node later: host 'another-typo.invalid' does not resolve (");
        // Said once per node: the reload checks only the node it added.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(proxy.Output, "Node typo: host"));
        Assert.DoesNotContain("Node n1: host", proxy.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Serilog_sink_the_proxy_does_not_have_is_named_in_one_line_and_the_proxy_still_serves()
    {
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", "--Serilog:WriteTo:0:Name=Sqe", "--Serilog:WriteTo:0:Args:serverUrl=http://127.0.0.1:9");
        await proxy.WaitUntilServingAsync();

        await proxy.WaitForOutputAsync("Serilog: Unable to find a method called Sqe. (a sink the proxy does not ship needs Serilog:Using and its DLL beside the proxy's)");
        Assert.DoesNotContain("Candidate methods", proxy.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Serilog:Using:0=Serilog.Sinks.Nowhere", "Serilog:Using:0: 'Serilog.Sinks.Nowhere' cannot be loaded: put Serilog.Sinks.Nowhere.dll beside the proxy's")]
    [InlineData("--Serilog:Using:0=Serilog.Sinks.Nowhere.dll", "Serilog:Using:0: 'Serilog.Sinks.Nowhere' cannot be loaded: put Serilog.Sinks.Nowhere.dll beside the proxy's")]
    [InlineData("--Serilog:Using:0=Foo, Culture=en-US", "Serilog:Using:0: 'Foo, Culture=en-US' is not an assembly name")]
    [InlineData("--Serilog:Using:0=../sinks/Foo", "Serilog:Using:0: '../sinks/Foo' is not an assembly name (Serilog.Sinks.Seq), nor may it be a path")]
    [InlineData("--Serilog:MinimumLevel:Default=Bogus", "Serilog: The value Bogus is not a valid Serilog level.")]
    public async Task A_Serilog_setting_that_cannot_be_used_stops_start_up_with_one_line_naming_it(string setting, string expected)
    {
        var (exit, stdout, stderr) = await ProxyProcess.RunAsync(
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", setting,
            $"--Proxy:Listen=http://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}");

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    // .NET reads Proxy.Host.dll.config beside the proxy for Akka; a malformed one ended the process
    // with a stack trace from inside the actor system's creation.
    [Fact]
    public async Task A_malformed_app_config_file_beside_the_proxy_stops_start_up_with_one_line_naming_it()
    {
        var copy = Directory.CreateTempSubdirectory("proxy-appconfig-").FullName;
        try
        {
            foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            {
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            }

            var config = Path.Combine(copy, "Proxy.Host.dll.config");
            await File.WriteAllTextAsync(config, "<configuration><appSettings><add key=\"a\" value=\"b\"></appSettings></configuration>");
            var (exit, stdout, stderr) = await ProxyProcess.RunDllAsync(
                Path.Combine(copy, "Proxy.Host.dll"),
                "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9",
                $"--Proxy:Listen=http://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}");

            Assert.Equal(2, exit);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"invalid configuration: {config}: line 1: ", line, StringComparison.Ordinal);
            Assert.Contains("does not match the end tag of 'appSettings'", line, StringComparison.Ordinal);
            Assert.Empty(stdout);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public async Task A_client_port_in_use_stops_start_up_with_one_line_naming_the_key()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        string[] args = [$"--Proxy:Listen=http://127.0.0.1:{port}", $"--Proxy:Debug:Listen=http://127.0.0.1:{Proxy.Testing.FreePort.Next()}", .. OneNode];
        var (exit, stdout, stderr) = await ProxyProcess.RunAsync(args);

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"Proxy:Listen: cannot listen on 127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public async Task A_demo_port_in_use_stops_start_up_with_one_line_for_the_demo_and_for_a_demo_node()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;

        var demo = await ProxyProcess.RunAsync(
            "--demo", $"--Demo:Ports:0={port}", $"--Demo:Ports:1={Proxy.Testing.FreePort.Next()}",
            $"--Proxy:Listen=http://127.0.0.1:{Proxy.Testing.FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{Proxy.Testing.FreePort.Next()}");
        Assert.Equal(2, demo.Exit);
        Assert.Contains($"Demo:Ports:0: cannot listen on 127.0.0.1:{port}", Assert.Single(demo.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);

        var node = await ProxyProcess.RunAsync("--demo-node", "--Demo:Name=d", $"--Demo:Listen=http://127.0.0.1:{port}");
        Assert.Equal(2, node.Exit);
        Assert.Contains($"Demo:Listen: cannot listen on 127.0.0.1:{port}", Assert.Single(node.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_names_the_commands_and_where_the_settings_are()
    {
        var (exit, stdout, _) = await ProxyProcess.RunAsync("--help");

        Assert.Equal(0, exit);
        Assert.Contains("--demo", stdout, StringComparison.Ordinal);
        Assert.Contains("Proxy:Nodes:0:Address", stdout, StringComparison.Ordinal);
        Assert.Contains("500ms, 30s, 5m, 1h", stdout, StringComparison.Ordinal);
        Assert.Contains("--version", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Version_prints_the_product_and_its_informational_version_and_exits_0()
    {
        var (exit, stdout, stderr) = await ProxyProcess.RunAsync("--version");

        var informational = typeof(ProxyApp).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        Assert.Equal(0, exit);
        Assert.Equal($"Proxy {informational}", stdout.TrimEnd());
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task The_process_stops_with_one_line_naming_the_key_and_a_non_zero_exit()
    {
        var (exit, stdout, stderr) = await ProxyProcess.RunAsync("--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", "--Proxy:Nodes:0:Weight=999");

        Assert.NotEqual(0, exit);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.Contains("Proxy:Nodes:0:Weight", line, StringComparison.Ordinal);
        Assert.Contains("999", line, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }
}

using System.Net;
using System.Text.Json;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>
/// A classifier type added without a fork, both ways: a plugin compiled here against the packed
/// Proxy.Actors package, named by <c>Proxy:Plugins:0</c> and loaded by the stock host process; and
/// the sample host (samples/CustomClassifierHost) built against the packed packages.
/// </summary>
public sealed class PluginTests : NodesTest, IDisposable
{
    private const string Call = "<?xml version=\"1.0\"?><methodCall><methodName>ping</methodName></methodCall>";

    private const string PluginSource = """
        using System.Text;
        using Proxy.Actors.Classification;

        namespace Acme.Classifiers;

        /// <summary>An answer that is the node's maintenance page: the work was not done.</summary>
        [Classifier("MaintenancePage")]
        public sealed class MaintenancePageClassifier(ClassifierConfiguration rule) : ClassifierActor(rule.Name, rule.Verdict)
        {
            private readonly byte[] _marker = Encoding.UTF8.GetBytes(rule.Require("Marker"));

            protected override bool Matches(IAnswerView answer) => answer.Content.Span.IndexOf(_marker) >= 0;
        }
        """;

    private readonly string _directory = Directory.CreateTempSubdirectory("proxy-plugin-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_plugin_classifier_named_in_the_configuration_judges_answers_and_its_verdict_redispatches()
    {
        var plugin = await CompilePluginAsync(PluginSource);
        await using var proxy = ProxyProcess.Start([.. MaintenanceRule(), $"--Proxy:Plugins:0={plugin}"]);

        await AssertMaintenancePageRedispatchedAsync(proxy);
        await proxy.WaitForOutputAsync($"Loaded classifier plugin Proxy:Plugins:0: {plugin}, classifier types MaintenancePage (");

        using var debug = new HttpClient { BaseAddress = proxy.Debug };
        var nodes = JsonDocument.Parse(await debug.GetStringAsync("/debug/nodes")).RootElement.GetProperty("nodes").EnumerateArray().ToArray();
        Assert.Equal("overloaded", nodes.Single(n => n.GetProperty("name").GetString() == "n1").GetProperty("state").GetString());
    }

    [Fact]
    public async Task A_plugin_rule_whose_constructor_rejects_its_settings_stops_start_up_naming_the_setting()
    {
        var plugin = await CompilePluginAsync(PluginSource);

        var (exit, _, stderr) = await ProxyProcess.RunAsync(
            $"--Proxy:Listen=http://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}",
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", $"--Proxy:Plugins:0={plugin}",
            "--Proxy:Classifiers:0:Name=maintenance", "--Proxy:Classifiers:0:Type=MaintenancePage", "--Proxy:Classifiers:0:Verdict=Overloaded");

        Assert.Equal(2, exit);
        Assert.Contains("Proxy:Classifiers:0:Marker: is required", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plugin_that_cannot_be_used_stops_start_up_with_one_line_naming_its_key()
    {
        var notAssembly = Path.Combine(_directory, "notes.dll");
        await File.WriteAllTextAsync(notAssembly, "not an assembly");
        var noClassifier = await CompilePluginAsync("namespace Acme; public sealed class Nothing { }", "empty");
        var clash = await CompilePluginAsync(PluginSource.Replace("\"MaintenancePage\"", "\"XmlRpcFault\"", StringComparison.Ordinal), "clash");
        var padded = await CompilePluginAsync(PluginSource.Replace("\"MaintenancePage\"", "\" MaintenancePage \"", StringComparison.Ordinal), "padded");

        foreach (var (path, expected) in new[]
        {
            ("/nonexistent/plugin.dll", "does not exist"),
            (notAssembly, "is not a .NET assembly"),
            (noClassifier, "has no public ClassifierActor marked [Classifier(\"Type\")]"),
            (clash, "is named 'XmlRpcFault', a classifier type that already exists ('XmlRpcFault', built in)"),
            (padded, "has a [Classifier] type name with leading or trailing spaces (' MaintenancePage ')"),
        })
        {
            var (exit, _, stderr) = await ProxyProcess.RunAsync(
                $"--Proxy:Listen=http://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}",
                "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", $"--Proxy:Plugins:0={path}");

            Assert.Equal(2, exit);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("Proxy:Plugins:0", line, StringComparison.Ordinal);
            Assert.Contains(expected, line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Two_plugins_naming_one_type_stop_start_up_naming_both()
    {
        var first = await CompilePluginAsync(PluginSource, "first");
        var second = await CompilePluginAsync(PluginSource, "second");

        var (exit, _, stderr) = await ProxyProcess.RunAsync(
            $"--Proxy:Listen=http://127.0.0.1:{FreePort.Next()}", $"--Proxy:Debug:Listen=http://127.0.0.1:{FreePort.Next()}",
            "--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", $"--Proxy:Plugins:0={first}", $"--Proxy:Plugins:1={second}");

        Assert.Equal(2, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Proxy:Plugins:1", line, StringComparison.Ordinal);
        Assert.Contains($"is named 'MaintenancePage', a classifier type that already exists ('MaintenancePage', Acme.Classifiers.MaintenancePageClassifier of Proxy:Plugins:0, {first})", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sample_host_built_against_the_packages_registers_its_classifier_and_its_verdict_redispatches()
    {
        var sample = Path.Combine(_directory, "CustomClassifierHost");
        Directory.CreateDirectory(sample);
        foreach (var file in Directory.GetFiles(Path.Combine(Packages.RepositoryRoot, "samples", "CustomClassifierHost")))
        {
            File.Copy(file, Path.Combine(sample, Path.GetFileName(file)));
        }

        var output = await Packages.BuildAsync(sample);
        await using var proxy = ProxyProcess.StartHost(Path.Combine(output, "CustomClassifierHost.dll"), new Dictionary<string, string>(), MaintenanceRule());

        await AssertMaintenancePageRedispatchedAsync(proxy);
    }

    // n1 answers its maintenance page (a 200), n2 works; one rule of the MaintenancePage type.
    private string[] MaintenanceRule()
    {
        N1.Serve("<html>down for maintenance</html>"u8.ToArray(), "text/html");
        return
        [
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={N2.Address}",
            "--Proxy:Classifiers:0:Name=maintenance", "--Proxy:Classifiers:0:Type=MaintenancePage",
            "--Proxy:Classifiers:0:Marker=down for maintenance", "--Proxy:Classifiers:0:Verdict=Overloaded",
        ];
    }

    // The client never gets the maintenance page: each call n1 took was redispatched to n2.
    private static async Task AssertMaintenancePageRedispatchedAsync(ProxyProcess proxy)
    {
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };
        for (var i = 0; i < 4; i++)
        {
            using var answer = await client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Contains("n2", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await proxy.WaitForOutputAsync("overloaded:maintenance n2:answered");
    }

    // A plugin author's project: a class library referencing the packed Proxy.Actors package.
    private async Task<string> CompilePluginAsync(string source, string name = "Acme.Classifiers")
    {
        var project = Path.Combine(_directory, name);
        Directory.CreateDirectory(project);
        await File.WriteAllTextAsync(Path.Combine(project, name + ".csproj"), $$"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Proxy.Actors" Version="$(ProxyVersion)" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(project, "Plugin.cs"), source);
        return Path.Combine(await Packages.BuildAsync(project), name + ".dll");
    }
}

using System.Configuration.Internal;
using Proxy.Host.Hosting;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class AppConfigWithoutAkkaSectionTests
{
    [Fact]
    public void Akkas_section_is_answered_without_starting_dotnets_reader()
    {
        var reader = new CountingReader();
        var config = new AppConfigWithoutAkkaSection(reader.Make);

        Assert.Null(config.GetSection("akka"));
        config.RefreshConfig("akka");

        Assert.Equal(0, reader.Made);
    }

    [Fact]
    public void Every_other_section_is_read_by_dotnets_reader_made_once()
    {
        var reader = new CountingReader();
        var config = new AppConfigWithoutAkkaSection(reader.Make);

        Assert.Equal("section appSettings", config.GetSection("appSettings"));
        Assert.Equal("section connectionStrings", config.GetSection("connectionStrings"));
        config.RefreshConfig("appSettings");

        Assert.Equal(1, reader.Made);
        Assert.Equal(["appSettings"], reader.Refreshed);
        Assert.True(config.SupportsUserConfig);
    }

    [Fact]
    public void The_apps_config_file_is_the_one_dotnets_reader_opens()
    {
        Assert.Equal(
            Path.Combine("/opt/proxy", "Proxy.Host.dll.config"),
            AppConfigWithoutAkkaSection.AppConfigFile("/opt/proxy", "Proxy.Host.dll"));
    }

    // .NET's app.config reader brings System.Configuration's host, System.Diagnostics.Process and
    // System.Net.WebClient with it: about 4 MB resident for a section nobody uses. Serilog's
    // configuration reader has nothing to read without a Serilog section.
    [Fact]
    public async Task A_serving_proxy_loaded_no_configuration_reader_it_has_nothing_for()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient();
        Assert.Contains("n1", await http.GetStringAsync(new Uri(proxy.Client, "/who")), StringComparison.Ordinal);

        var mapped = await File.ReadAllTextAsync($"/proc/{proxy.Id}/maps");
        Assert.Contains("Akka.dll", mapped, StringComparison.Ordinal);
        Assert.DoesNotContain("System.Net.WebClient.dll", mapped, StringComparison.Ordinal);
        Assert.DoesNotContain("Serilog.Settings.Configuration.dll", mapped, StringComparison.Ordinal);
    }

    private sealed class CountingReader : IInternalConfigSystem
    {
        public int Made { get; private set; }

        public List<string> Refreshed { get; } = [];

        public bool SupportsUserConfig => true;

        public IInternalConfigSystem Make()
        {
            Made++;
            return this;
        }

        public object GetSection(string configKey) => $"section {configKey}";

        public void RefreshConfig(string sectionName) => Refreshed.Add(sectionName);
    }
}

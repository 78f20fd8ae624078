using System.Configuration.Internal;
using Proxy.Host.Hosting;
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

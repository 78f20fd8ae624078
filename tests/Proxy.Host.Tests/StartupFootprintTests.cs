using System.Text;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

// What a proxy process maps stays resident: start-up loads nothing it has no use for yet.
public sealed class StartupFootprintTests
{
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

    // .NET reads the gen1 cap and the JIT cache size from the environment only: the proxy restarts itself in place with them,
    // keeping its process id, its arguments and the environment it was given.
    [Fact]
    public async Task A_serving_proxy_runs_with_its_environment_only_runtime_settings_under_the_process_id_it_was_started_with()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start(
            new Dictionary<string, string> { ["PROXY_TEST_MARK"] = "kept" },
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();
        using var http = new HttpClient();
        Assert.Contains("n1", await http.GetStringAsync(new Uri(proxy.Client, "/who")), StringComparison.Ordinal);

        var environment = Environment(proxy.Id);
        Assert.Contains("DOTNET_GCGen1MaxBudget=0x600000", environment);
        Assert.Contains("DOTNET_JitHostMaxSlabCache=0x100000", environment);
        Assert.Contains("PROXY_TEST_MARK=kept", environment);
        Assert.Contains($"--Proxy:Nodes:0:Address={node.Address}", Entries(File.ReadAllBytes($"/proc/{proxy.Id}/cmdline")));
        Assert.Equal("dotnet", (await File.ReadAllTextAsync($"/proc/{proxy.Id}/comm")).Trim()); // ps and pgrep still find it by name
        Assert.DoesNotContain("could not restart", proxy.Output, StringComparison.Ordinal);

        // dotnet-counters, dotnet-trace and dotnet-dump find the process by its id: one diagnostics
        // socket of that id, and the restarted runtime listening on it.
        var socket = Assert.Single(Directory.GetFiles(Path.GetTempPath(), $"dotnet-diagnostic-{proxy.Id}-*-socket"));
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        await client.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(socket));
    }

    // The kernel names a process after the file it runs: restarted by the path it was started by,
    // a proxy started through a symlink keeps that name for ps and pgrep.
    [Fact]
    public async Task A_proxy_started_through_a_symlink_keeps_its_name_across_the_restart()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var directory = Directory.CreateTempSubdirectory("proxy-link-");
        try
        {
            var muxer = Path.Combine(directory.FullName, "edge-proxy");
            File.CreateSymbolicLink(muxer, System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? System.Environment.ProcessPath!);
            await using var node = await TestNode.StartAsync("n1");
            await using var proxy = ProxyProcess.StartWithMuxer(muxer, "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
            await proxy.WaitUntilServingAsync();

            Assert.Contains("DOTNET_GCGen1MaxBudget=0x600000", Environment(proxy.Id));
            Assert.Equal("edge-proxy", (await File.ReadAllTextAsync($"/proc/{proxy.Id}/comm")).Trim());
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0x200000")]
    public async Task An_operators_own_gen1_budget_is_kept(string value)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start(
            new Dictionary<string, string> { ["DOTNET_GCGen1MaxBudget"] = value },
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();

        var environment = Environment(proxy.Id);
        Assert.Contains($"DOTNET_GCGen1MaxBudget={value}", environment);
        Assert.Single(environment, e => e.StartsWith("DOTNET_GCGen1MaxBudget=", StringComparison.Ordinal));
        Assert.Contains("DOTNET_JitHostMaxSlabCache=0x100000", environment); // the one missing is still added
    }

    [Fact]
    public async Task A_gen1_budget_that_is_not_hexadecimal_is_named_at_start()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var node = await TestNode.StartAsync("n1");
        await using var proxy = ProxyProcess.Start(
            new Dictionary<string, string> { ["DOTNET_GCGen1MaxBudget"] = "6MB" },
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={node.Address}");
        await proxy.WaitUntilServingAsync();

        Assert.Contains("DOTNET_GCGen1MaxBudget=6MB is not a hexadecimal number", proxy.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("could not restart", proxy.Output, StringComparison.Ordinal);
        Assert.Contains("DOTNET_GCGen1MaxBudget=6MB", Environment(proxy.Id));
    }

    // WebApplicationFactory<Program> runs the proxy's Main inside the test host: restarting the
    // process would restart the test run.
    [Fact]
    public void A_main_that_is_not_the_processs_entry_point_restarts_nothing()
    {
        Proxy.Host.Hosting.EnvironmentOnlySettings.ApplyByReexecuting([], typeof(ProxyApp).Assembly);
        ProxyApp.ApplyRuntimeSettings([]);

        Assert.Null(System.Environment.GetEnvironmentVariable("DOTNET_GCGen1MaxBudget"));
    }

    [Theory]
    [InlineData("0x600000", true)]
    [InlineData("600000", true)]
    [InlineData("0", true)]
    [InlineData("0X1aF", true)]
    [InlineData("banana", false)]
    [InlineData("6MB", false)]
    [InlineData("0x", false)]
    [InlineData("", false)]
    public void A_gen1_budget_is_read_as_hexadecimal(string value, bool hexadecimal) =>
        Assert.Equal(hexadecimal, Proxy.Host.Hosting.EnvironmentOnlySettings.IsHexadecimal(value));

    // The runtime settings README tells operators to edit ship in the runtime configuration beside
    // the binary: gen0's budget capped at 32 MiB a heap, DATAS letting it grow to at most twice the
    // live data (its default, ten times, was the peak RSS of the first load after start-up), and
    // the thread pool without hill climbing (its swings between 2 and 13 workers widened the tail).
    [Fact]
    public void The_shipped_runtime_configuration_caps_gen0_and_its_growth_and_fixes_the_thread_pool()
    {
        using var runtimeConfig = System.Text.Json.JsonDocument.Parse(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.runtimeconfig.json")));
        var properties = runtimeConfig.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.Equal(33554432, properties.GetProperty("System.GC.Gen0MaxBudget").GetInt32());
        Assert.Equal(2000, properties.GetProperty("System.GC.DGen0GrowthMaxFactor").GetInt32());
        Assert.True(properties.GetProperty("System.GC.Server").GetBoolean());
        Assert.True(properties.GetProperty("System.Threading.ThreadPool.HillClimbing.Disable").GetBoolean());
    }

    private static List<string> Environment(int pid) => Entries(File.ReadAllBytes($"/proc/{pid}/environ"));

    private static List<string> Entries(byte[] content) =>
        [.. Encoding.UTF8.GetString(content).Split('\0', StringSplitOptions.RemoveEmptyEntries)];

    // The code-page provider (0.4 MB) is registered at the first charset .NET does not know, or the
    // first answer parsed as XML. Python's xmlrpc.server names its encoding only in the declaration.
    [Theory]
    [InlineData("text/xml; charset=windows-1252")]
    [InlineData("text/xml")]
    public async Task A_fault_in_a_legacy_charset_is_still_caught_once_code_pages_load_on_demand(string contentType)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var overloaded = await TestNode.StartAsync("n1");
        await using var healthy = await TestNode.StartAsync("n2");
        var fault = Encoding.Latin1.GetBytes(
            "<?xml version=\"1.0\" encoding=\"windows-1252\"?><methodResponse><fault><value><struct>" +
            "<member><name>faultCode</name><value><int>1007</int></value></member>" +
            "<member><name>faultString</name><value><string>surcharg\u00e9</string></value></member>" +
            "</struct></value></fault></methodResponse>");
        overloaded.Handle(ctx =>
        {
            ctx.Response.ContentType = contentType;
            ctx.Response.ContentLength = fault.Length;
            return ctx.Response.Body.WriteAsync(fault, ctx.RequestAborted).AsTask();
        });
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={overloaded.Address}",
            "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={healthy.Address}");
        await proxy.WaitUntilServingAsync();
        Assert.DoesNotContain("System.Text.Encoding.CodePages.dll", await File.ReadAllTextAsync($"/proc/{proxy.Id}/maps"), StringComparison.Ordinal);

        using var http = new HttpClient();
        for (var i = 0; i < 4; i++)
        {
            using var call = new StringContent("<?xml version=\"1.0\"?><methodCall><methodName>ping</methodName></methodCall>", Encoding.UTF8, "text/xml");
            using var answer = await http.PostAsync(new Uri(proxy.Client, "/RPC2"), call);
            Assert.Contains("<string>n2</string>", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.NotEmpty(overloaded.Received);
        Assert.Contains("System.Text.Encoding.CodePages.dll", await File.ReadAllTextAsync($"/proc/{proxy.Id}/maps"), StringComparison.Ordinal);
    }
}

using System.Net.Http.Json;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>One line per request, text or JSON, to standard output or a file that logrotate can rotate.</summary>
public sealed class AccessLogTests : NodesTest, IDisposable
{
    private const string Call = "<?xml version=\"1.0\"?><methodCall><methodName>ping</methodName></methodCall>";

    private readonly string _directory = Directory.CreateTempSubdirectory("proxy-access-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task By_default_each_request_is_one_text_line_on_standard_output_with_the_nodes_tried()
    {
        N1.Overload();
        await using var proxy = ProxyProcess.Start(
            "--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", "--Proxy:Nodes:1:Name=n2", $"--Proxy:Nodes:1:Address={N2.Address}",
            "--Proxy:Redispatch:Max=1");
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };

        for (var i = 0; i < 2; i++)
        {
            using var answer = await client.PostAsync("/RPC2?x=1", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        await proxy.WaitForOutputAsync(" 127.0.0.1 POST /RPC2?x=1 -> 200 in ");
        await proxy.WaitForOutputAsync(" ms via [n1:overloaded:xmlrpc-overload n2:answered]");
    }

    [Fact]
    public async Task A_text_line_for_an_answer_the_proxy_gave_itself_keeps_the_duration_and_the_tries_and_says_why()
    {
        await using var proxy = ProxyProcess.Start("--Proxy:Nodes:0:Name=down", "--Proxy:Nodes:0:Address=http://127.0.0.1:9");
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };

        using var answer = await client.GetAsync("/item");

        Assert.Equal(HttpStatusCode.BadGateway, answer.StatusCode);
        await proxy.WaitForOutputAsync(" 127.0.0.1 GET /item -> 502 in ");
        await proxy.WaitForOutputAsync(" ms via [down:refused] refused: could not reach a node");
    }

    // A log collector reading the proxy's standard output exits: the lines the proxy can no longer
    // write are counted, and requests are answered as before.
    [Fact]
    public async Task Lines_that_standard_output_no_longer_takes_once_its_reader_has_gone_are_counted_as_dropped()
    {
        await using var proxy = ProxyProcess.StartWithUnreadStandardOutput("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}");
        await proxy.WaitUntilServingAsync();
        proxy.CloseStandardOutput();
        using var client = new HttpClient { BaseAddress = proxy.Client };
        using var debug = new HttpClient { BaseAddress = proxy.Debug };

        for (var i = 0; i < 20; i++)
        {
            using var answer = await client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        // The warning goes where the proxy's own log goes, standard output too: the count is what tells.
        await Eventually.AssertAsync(
            async () => Assert.Contains("\nproxy_access_log_dropped_total 20\n", await debug.GetStringAsync("/metrics"), StringComparison.Ordinal),
            TimeSpan.FromSeconds(10));
        using var after = await client.PostAsync("/RPC2", new StringContent(Call));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    // The access log's batches and the proxy's own log lines share standard output: a batch is
    // written to a full pipe in parts, as the reader makes room, and no line of the other lands
    // between two of them.
    [Fact]
    public async Task Lines_of_the_proxy_s_own_log_never_land_inside_an_access_log_line_on_a_pipe_read_late()
    {
        await using var proxy = ProxyProcess.StartWithUnreadStandardOutput("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}");
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };

        // The pipe fills after some 700 lines; from then on the access log's writer waits with a
        // batch half written, and a SIGHUP every 100 requests queues a line of the proxy's own log
        // ("SIGHUP: reading the configuration again") behind it. Then the pipe is read.
        for (var i = 0; i < 3000; i++)
        {
            using var answer = await client.PostAsync($"/RPC2/{i}", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            if (i % 100 == 99)
            {
                proxy.Signal("HUP");
            }
        }

        var output = await proxy.ReadStandardOutputAsync(
            text => text.Contains(" POST /RPC2/2999 -> 200 ", StringComparison.Ordinal) && text.Contains("reading the configuration again", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60));

        var lines = output.Split('\n')[..^1];
        Assert.All(lines, line => Assert.Matches(@"^(\d{4}-\d\d-\d\dT[\d:.]+Z 127\.0\.0\.1 POST /RPC2/\d+ -> 200 in [\d.]+ ms via \[n1:answered\]( trace=[0-9a-f]{32})?|\[\d\d:\d\d:\d\d\.\d{3} [A-Z]{3}\] \S+: .*)$", line));
        Assert.Equal(3000, lines.Count(line => line.Contains(" POST /RPC2/", StringComparison.Ordinal)));
    }

    // A supervisor left standard output non-blocking and reads it late: the lines wait for room in
    // the pipe, as they do in a blocking one, rather than being dropped.
    [Fact]
    public async Task Lines_wait_for_a_non_blocking_standard_output_to_take_them_and_none_is_dropped()
    {
        await using var proxy = ProxyProcess.StartWithNonBlockingUnreadStandardOutput("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}");
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };
        using var debug = new HttpClient { BaseAddress = proxy.Debug };

        // Lines of about 90 bytes: 2,000 of them are nearly three times what the pipe holds.
        for (var i = 0; i < 2000; i++)
        {
            using var answer = await client.PostAsync($"/RPC2/{i}", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        var output = await proxy.ReadStandardOutputAsync(text => text.Contains(" POST /RPC2/1999 -> 200 ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));

        Assert.Equal(2000, output.Split('\n').Count(line => line.Contains(" POST /RPC2/", StringComparison.Ordinal)));
        Assert.Contains("\nproxy_access_log_dropped_total 0\n", await debug.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_lines_go_to_the_file_one_object_per_request_and_refusals_say_why()
    {
        var file = Path.Combine(_directory, "access.json");
        N1.Overload();
        await using (var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:AccessLog:Format=json", $"--Proxy:AccessLog:Path={file}"))
        {
            using var first = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            using var second = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            using var connect = new HttpRequestMessage(HttpMethod.Parse("CONNECT"), "/tunnel");
            connect.Headers.Host = "example.org:443";
            using var refused = await proxy.Client.SendAsync(connect);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, refused.StatusCode);
        }

        // Stopping writes what was queued: the file is complete.
        var lines = File.ReadAllLines(file).Select(line => JsonDocument.Parse(line).RootElement).ToArray();
        Assert.Equal(3, lines.Length);
        var overloaded = lines.Single(l => l.GetProperty("tries").GetArrayLength() == 2);
        Assert.Equal("POST", overloaded.GetProperty("method").GetString());
        Assert.Equal("/RPC2", overloaded.GetProperty("target").GetString());
        Assert.Equal(200, overloaded.GetProperty("status").GetInt32());
        Assert.Equal("127.0.0.1", overloaded.GetProperty("client").GetString());
        Assert.Equal(["n1:overloaded:xmlrpc-overload", "n2:answered"], overloaded.GetProperty("tries").EnumerateArray().Select(t => $"{t.GetProperty("node").GetString()}:{t.GetProperty("result").GetString()}"));
        Assert.True(overloaded.GetProperty("ms").GetDouble() > 0);
        Assert.True(overloaded.GetProperty("time").GetDateTime() > DateTime.UtcNow.AddMinutes(-5));
        var refusal = lines.Single(l => l.GetProperty("status").GetInt32() == 405);
        Assert.Contains("CONNECT is not supported", refusal.GetProperty("refused").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Turned_off_it_writes_nothing()
    {
        var file = Path.Combine(_directory, "off.log");
        await using (var proxy = await ProxyHarness.StartAsync(Nodes, "--Proxy:AccessLog:Enabled=false", $"--Proxy:AccessLog:Path={file}"))
        {
            using var answer = await proxy.Client.PostAsync("/RPC2", new StringContent(Call));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        Assert.False(File.Exists(file));
    }

    // nohup starts the process with SIGHUP ignored; the proxy takes it back, as nginx does.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_logrotate_moves_the_file_SIGHUP_reopens_it_by_name(bool underNohup)
    {
        var file = Path.Combine(_directory, "access.log");
        string[] settings = ["--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", $"--Proxy:AccessLog:Path={file}"];
        await using var proxy = underNohup ? ProxyProcess.StartUnderNohup(settings) : ProxyProcess.Start(settings);
        await proxy.WaitUntilServingAsync();
        using var client = new HttpClient { BaseAddress = proxy.Client };
        using (await client.PostAsync("/before", new StringContent(Call)))
        {
        }

        await Eventually.AssertAsync(() => Assert.Contains("POST /before -> 200", File.ReadAllText(file), StringComparison.Ordinal));
        File.Move(file, file + ".1");
        proxy.Signal("HUP");
        await proxy.WaitForOutputAsync("SIGHUP");

        await Eventually.AssertAsync(async () =>
        {
            using (await client.PostAsync("/after", new StringContent(Call)))
            {
            }

            Assert.True(File.Exists(file), "no new file after SIGHUP");
            Assert.Contains("POST /after -> 200", File.ReadAllText(file), StringComparison.Ordinal);
        });
        Assert.DoesNotContain("/before", File.ReadAllText(file), StringComparison.Ordinal);
        Assert.Contains("POST /before -> 200", File.ReadAllText(file + ".1"), StringComparison.Ordinal);
        await proxy.WaitForOutputAsync($"The access log reopened {file} (SIGHUP)");

        // One signal, one reload told in the log (each configuration source raised its own event).
        await proxy.WaitForOutputAsync("Configuration change applied");
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(proxy.Output, "Configuration change applied"));
    }

    // logrotate's copytruncate copies the file and truncates it in place, with no signal: the next
    // lines start the file again, as they do with nginx's and HAProxy's logs (opened O_APPEND), not
    // at the old end behind a run of NUL bytes.
    [Fact]
    public async Task After_copytruncate_the_next_lines_start_the_file_again()
    {
        var file = Path.Combine(_directory, "truncated.log");
        await using var proxy = await ProxyHarness.StartAsync(Nodes, $"--Proxy:AccessLog:Path={file}");
        for (var i = 0; i < 20; i++)
        {
            using var answer = await proxy.Client.PostAsync($"/before/{i}", new StringContent(Call));
        }

        await Eventually.AssertAsync(() => Assert.Contains("POST /before/19 -> 200", File.ReadAllText(file), StringComparison.Ordinal));
        using (var truncate = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            truncate.SetLength(0);
        }

        using (await proxy.Client.PostAsync("/after", new StringContent(Call)))
        {
        }

        await Eventually.AssertAsync(() => Assert.Contains("POST /after -> 200", File.ReadAllText(file), StringComparison.Ordinal));
        var text = File.ReadAllText(file);
        Assert.DoesNotContain('\0', text);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT", text);
        Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    // logrotate ran before the proxy wrote its first line: the file is opened once, by name, and
    // the log says the SIGHUP was taken then — not again on a later batch.
    [Fact]
    public async Task A_SIGHUP_before_the_first_line_is_taken_by_the_first_batch_once()
    {
        var file = Path.Combine(_directory, "early.log");
        await using var proxy = ProxyProcess.Start("--Proxy:Nodes:0:Name=n1", $"--Proxy:Nodes:0:Address={N1.Address}", $"--Proxy:AccessLog:Path={file}");
        await proxy.WaitUntilServingAsync();
        proxy.Signal("HUP");
        await proxy.WaitForOutputAsync("SIGHUP");
        using var client = new HttpClient { BaseAddress = proxy.Client };

        using (await client.PostAsync("/first", new StringContent(Call)))
        {
        }

        await proxy.WaitForOutputAsync($"The access log reopened {file} (SIGHUP)");
        using (await client.PostAsync("/second", new StringContent(Call)))
        {
        }

        await Eventually.AssertAsync(() => Assert.Contains("POST /second -> 200", File.ReadAllText(file), StringComparison.Ordinal));
        using (await client.PostAsync("/third", new StringContent(Call)))
        {
        }

        await Eventually.AssertAsync(() => Assert.Contains("POST /third -> 200", File.ReadAllText(file), StringComparison.Ordinal));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(proxy.Output, "The access log reopened"));
        Assert.Contains("POST /first -> 200", File.ReadAllText(file), StringComparison.Ordinal);
    }

    // logrotate's olddir, or an operator, moved the log's directory away: the access log drops and
    // counts its lines until the directory is back, and a node change in the same reload applies.
    [Fact]
    public async Task A_reload_while_the_access_log_s_directory_is_gone_still_applies_the_node_change()
    {
        var directory = Path.Combine(_directory, "logs");
        Directory.CreateDirectory(directory);
        using var config = new ConfigFile();
        config.Write(ConfigFile.Nodes([("n1", N1, 128)]));
        await using var proxy = ProxyProcess.Start("--config", config.Path, $"--Proxy:AccessLog:Path={Path.Combine(directory, "access.log")}");
        await proxy.WaitUntilServingAsync();
        using var debug = new HttpClient { BaseAddress = proxy.Debug };

        Directory.Move(directory, directory + ".old");
        config.Write(ConfigFile.Nodes([("n1", N1, 128), ("n2", N2, 128)]));
        proxy.Signal("HUP");

        await Eventually.AssertAsync(async () =>
        {
            var nodes = (await debug.GetFromJsonAsync<JsonElement>("/debug/nodes")).GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString());
            Assert.Equal(["n1", "n2"], nodes.Order());
        });
        Assert.DoesNotContain("Configuration change refused", proxy.Output, StringComparison.Ordinal);

        // The SIGHUP reopens the file by name: its lines are dropped (and said so) until the
        // directory is back, then written again (and said so).
        using var client = new HttpClient { BaseAddress = proxy.Client };
        await Eventually.AssertAsync(async () =>
        {
            // Until the SIGHUP's reopen is taken: the file watcher may have applied the nodes first.
            using (await client.PostAsync("/while-gone", new StringContent(Call)))
            {
            }

            Assert.Contains("The access log cannot be written to", proxy.Output, StringComparison.Ordinal);
        });
        Directory.Move(directory + ".old", directory);
        await Eventually.AssertAsync(async () =>
        {
            using (await client.PostAsync("/back", new StringContent(Call)))
            {
            }

            Assert.Contains("POST /back -> 200", File.ReadAllText(Path.Combine(directory, "access.log")), StringComparison.Ordinal);
        });
        await proxy.WaitForOutputAsync("The access log is written to");
    }

    [Theory]
    [InlineData("Proxy:AccessLog:Format", "--Proxy:AccessLog:Format=xml")]
    [InlineData("Proxy:AccessLog:Path", "--Proxy:AccessLog:Path=/nonexistent/dir/access.log")]
    [InlineData("Proxy:AccessLog:Enabled", "--Proxy:AccessLog:Enabled=maybe")]
    public void Access_log_mistakes_stop_start_up_naming_the_key(string key, string setting)
    {
        var ex = Assert.Throws<Configuration.ProxyConfigurationException>(() => Configuration.ProxySettingsFactory.Create(
            new ConfigurationBuilder().AddCommandLine(["--Proxy:Nodes:0:Name=a", "--Proxy:Nodes:0:Address=http://127.0.0.1:9", setting]).Build()));

        Assert.Equal(key, ex.Key);
    }
}

using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Proxy.Testing;

namespace Proxy.Host.Tests;

/// <summary>
/// Debian's headless chromium driven over the DevTools protocol: open a page, evaluate script in
/// it, take a screenshot. Needs /usr/bin/chromium (apt-get install -y chromium; .ci/run does it).
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<HeadlessChromium> OpenAsync(Uri page)
    {
        const string executable = "/usr/bin/chromium";
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException("the browser test needs Debian's chromium: apt-get install -y chromium");
        }

        var port = FreePort.Next();
        var profile = Directory.CreateTempSubdirectory("proxy-chromium-").FullName;
        var start = new ProcessStartInfo(executable) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1280,900", $"--user-data-dir={profile}",
            $"--remote-debugging-port={port}", page.ToString(),
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var browser = new HeadlessChromium(process, profile);
        await browser.ConnectAsync(port);
        return browser;
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value as JSON.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true });
        return result.GetProperty("result").TryGetProperty("value", out var value) ? value.Clone() : default;
    }

    /// <summary>Evaluates <paramref name="expression"/> until it returns true (the page refreshes on its own).</summary>
    public async Task WaitUntilAsync(string expression, TimeSpan? within = null)
    {
        await Eventually.AssertAsync(
            async () =>
            {
                if ((await EvaluateAsync(expression)).ValueKind != JsonValueKind.True)
                {
                    throw new TimeoutException($"the page never satisfied: {expression}");
                }
            },
            within ?? TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(100));
    }

    public async Task<byte[]> ScreenshotAsync()
    {
        var result = await SendAsync("Page.captureScreenshot", new { format = "png" });
        return Convert.FromBase64String(result.GetProperty("data").GetString()!);
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task ConnectAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        const string NoEndpoint = "chromium did not open its DevTools endpoint";
        Uri? page = null;
        await Eventually.AssertAsync(
            async () =>
            {
                try
                {
                    var targets = await http.GetFromJsonAsync<JsonElement>($"http://127.0.0.1:{port}/json/list");
                    var pageTarget = targets.EnumerateArray().FirstOrDefault(t => t.GetProperty("type").GetString() == "page");
                    if (pageTarget.ValueKind == JsonValueKind.Object)
                    {
                        page = new Uri(pageTarget.GetProperty("webSocketDebuggerUrl").GetString()!);
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }

                throw _process.HasExited ? Eventually.GiveUp(NoEndpoint) : new InvalidOperationException(NoEndpoint);
            },
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(100));
        await _socket.ConnectAsync(page!, CancellationToken.None);
    }

    private async Task<JsonElement> SendAsync(string method, object parameters)
    {
        var id = ++_nextId;
        var request = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters });
        await _socket.SendAsync(request, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var message = new MemoryStream();
            var buffer = new byte[64 * 1024];
            WebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer, timeout.Token);
                message.Write(buffer, 0, received.Count);
            }
            while (!received.EndOfMessage);

            using var document = JsonDocument.Parse(message.ToArray());
            if (document.RootElement.TryGetProperty("id", out var replyId) && replyId.GetInt32() == id)
            {
                if (document.RootElement.TryGetProperty("error", out var error))
                {
                    throw new InvalidOperationException($"{method} failed: {error}");
                }

                return document.RootElement.GetProperty("result").Clone();
            }
        }
    }
}

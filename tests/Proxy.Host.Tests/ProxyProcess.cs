using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Proxy.Testing;

namespace Proxy.Host.Tests;

/// <summary>The proxy as a real child process (for exit codes, signals and start-up output).</summary>
public sealed class ProxyProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ProxyProcess(Process process, Uri client, Uri debug)
    {
        _process = process;
        Client = client;
        Debug = debug;
    }

    public Uri Client { get; }

    public Uri Debug { get; }

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Runs Proxy.Host with exactly these arguments and returns its exit code.</summary>
    public static async Task<int> RunToExitAsync(params string[] args) => (await RunAsync(args)).Exit;

    /// <summary>Runs Proxy.Host with exactly these arguments to its exit; returns the exit code and what it wrote.</summary>
    public static Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args) =>
        RunDllAsync(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.dll"), args);

    /// <summary>Runs this host DLL (a copy of the proxy elsewhere, say) with these arguments to its exit.</summary>
    public static async Task<(int Exit, string Stdout, string Stderr)> RunDllAsync(string dll, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout, await stderr);
    }

    public static ProxyProcess Start(params string[] settings) => Start(new Dictionary<string, string>(), settings);

    /// <summary>Starts Proxy.Host with these environment variables (as a container would) and arguments.</summary>
    public static ProxyProcess Start(IReadOnlyDictionary<string, string> environment, params string[] settings) =>
        StartHost(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.dll"), environment, settings);

    /// <summary>Starts another host built on the proxy (a sample built against the packages), with these arguments.</summary>
    public static ProxyProcess StartHost(string dll, IReadOnlyDictionary<string, string> environment, params string[] settings) =>
        StartHost(dll, environment, readStandardOutput: true, [], settings);

    /// <summary>Starts Proxy.Host with its standard output a pipe nobody reads (it fills at 64 KiB; then every write to it waits).</summary>
    public static ProxyProcess StartWithUnreadStandardOutput(params string[] settings) =>
        StartHost(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.dll"), new Dictionary<string, string>(), readStandardOutput: false, [], settings);

    /// <summary>
    /// As <see cref="StartWithUnreadStandardOutput"/>, with standard output set non-blocking before
    /// the proxy starts (as some supervisors leave it): a write to the full pipe fails with EAGAIN
    /// instead of waiting.
    /// </summary>
    public static ProxyProcess StartWithNonBlockingUnreadStandardOutput(params string[] settings) =>
        StartHost(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.dll"), new Dictionary<string, string>(), readStandardOutput: false,
            ["python3", Path.Combine(AppContext.BaseDirectory, "Python", "nonblocking_stdout.py")], settings);

    /// <summary>Starts Proxy.Host as <c>nohup</c> does: with SIGHUP ignored from the start.</summary>
    public static ProxyProcess StartUnderNohup(params string[] settings) =>
        StartHost(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.dll"), new Dictionary<string, string>(), readStandardOutput: true, ["nohup"], settings);

    /// <summary>Starts Proxy.Host.dll with this program as the muxer (a symlink to dotnet, say).</summary>
    public static ProxyProcess StartWithMuxer(string muxer, params string[] settings) =>
        StartHost(Path.Combine(AppContext.BaseDirectory, "Proxy.Host.dll"), new Dictionary<string, string>(), readStandardOutput: true, [], settings, muxer);

    private static ProxyProcess StartHost(string dll, IReadOnlyDictionary<string, string> environment, bool readStandardOutput, string[] wrapper, string[] settings, string muxer = "dotnet")
    {
        var client = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var debug = new Uri($"http://127.0.0.1:{FreePort.Next()}");
        var start = new ProcessStartInfo(wrapper.Length > 0 ? wrapper[0] : muxer)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        if (wrapper.Length > 0)
        {
            // nohup (or the script) execs dotnet in its place, so the process is still the proxy's.
            foreach (var argument in wrapper.Skip(1))
            {
                start.ArgumentList.Add(argument);
            }

            start.ArgumentList.Add(muxer);
        }

        start.ArgumentList.Add(dll);
        if (!settings.Contains("--demo-node"))
        {
            start.ArgumentList.Add($"--Proxy:Listen={client.OriginalString}");
            start.ArgumentList.Add($"--Proxy:Debug:Listen={debug.OriginalString}");
        }

        foreach (var setting in settings)
        {
            start.ArgumentList.Add(setting);
        }

        var process = new Process { StartInfo = start };
        var proxy = new ProxyProcess(process, client, debug);
        process.OutputDataReceived += (_, e) => proxy.Append(e.Data);
        process.ErrorDataReceived += (_, e) => proxy.Append(e.Data);
        process.Start();
        if (readStandardOutput)
        {
            process.BeginOutputReadLine();
        }

        process.BeginErrorReadLine();
        return proxy;
    }

    /// <summary>Waits until the debug listener answers /healthz.</summary>
    public async Task WaitUntilServingAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await Eventually.AssertAsync(
            async () =>
            {
                try
                {
                    using var response = await http.GetAsync(new Uri(Debug, "/readyz"));
                    if (response.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }

                throw _process.HasExited
                    ? Eventually.GiveUp($"the proxy did not start:\n{Output}")
                    : new InvalidOperationException($"the proxy did not start:\n{Output}");
            },
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Waits until the proxy has written this text to its output (a log line, say).</summary>
    public async Task WaitForOutputAsync(string text)
    {
        await Eventually.AssertAsync(
            () =>
            {
                if (!Output.Contains(text, StringComparison.Ordinal))
                {
                    var message = $"the proxy did not write '{text}':\n{Output}";
                    throw _process.HasExited ? Eventually.GiveUp(message) : new InvalidOperationException(message);
                }
            },
            TimeSpan.FromSeconds(30));
    }

    /// <summary>True once <see cref="Terminate"/> was called: the process is draining, no longer taking calls.</summary>
    public bool Terminating { get; private set; }

    public void Terminate()
    {
        Terminating = true;
        Signal("TERM");
    }

    /// <summary>Sends the process a signal by name (<c>HUP</c>, <c>KILL</c>), as <c>kill</c> does.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>
    /// Closes the reading end of standard output, as a log collector that exits does (started by
    /// <see cref="StartWithUnreadStandardOutput"/>): every later write to it fails with EPIPE.
    /// </summary>
    public void CloseStandardOutput() => _process.StandardOutput.Close();

    /// <summary>Reads standard output (started with it unread) until <paramref name="done"/> holds for what was read, or <paramref name="within"/> passes.</summary>
    /// <remarks>
    /// Reads the pipe itself, each read returning what the pipe holds. <see cref="StreamReader"/>'s
    /// ReadAsync, asked for more than it has, reads on while each read fills its 4 KiB buffer: when
    /// the proxy's last write ended on a page boundary it waited for bytes that never came, and the
    /// deadline threw away everything that call had read (one CI run in about 15 lost 57,344 bytes
    /// so, the proxy's last write, seen with strace).
    /// </remarks>
    public async Task<string> ReadStandardOutputAsync(Func<string, bool> done, TimeSpan within)
    {
        var text = new StringBuilder();
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[64 * 1024];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        var pipe = _process.StandardOutput.BaseStream;
        using var deadline = new CancellationTokenSource(within);
        while (!done(text.ToString()))
        {
            int read;
            try
            {
                read = await pipe.ReadAsync(bytes, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"standard output did not have what was waited for within {within}; it had {text.Length} characters, ending:\n{text.ToString()[Math.Max(0, text.Length - 500)..]}");
            }

            if (read == 0)
            {
                break;
            }

            text.Append(chars, 0, decoder.GetChars(bytes, 0, read, chars, 0));
        }

        return text.ToString();
    }

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return _process.ExitCode;
    }

    /// <summary>True once a new TCP connection to the client listener is refused.</summary>
    public async Task<bool> RefusesConnectionsAsync()
    {
        using var socket = new TcpClient();
        try
        {
            await socket.ConnectAsync(Client.Host, Client.Port);
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}

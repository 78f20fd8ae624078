using System.Diagnostics;
using System.Text.Json;

namespace Proxy.Testing;

/// <summary>
/// A backend node that is Python's own <c>xmlrpc.server</c> (<c>Python/xmlrpc_node.py</c>) on a free
/// loopback port: software nobody here wrote, as the most common XML-RPC server writes its answers.
/// </summary>
public sealed class PythonXmlRpcNode : IAsyncDisposable
{
    private readonly Process _process;

    private PythonXmlRpcNode(string name, Process process, int port, bool https = false)
    {
        Name = name;
        _process = process;
        Address = https ? $"https://localhost:{port}" : $"http://127.0.0.1:{port}";
    }

    public string Name { get; }

    public string Address { get; }

    public static Task<PythonXmlRpcNode> StartAsync(string name) => StartAsync(name, "xmlrpc_node.py", name);

    /// <summary>A node whose answers are written in the Python codec <paramref name="encoding"/> (SimpleXMLRPCServer(encoding=...)), which their XML declaration names.</summary>
    public static Task<PythonXmlRpcNode> StartEncodedAsync(string name, string encoding) =>
        StartAsync(name, "xmlrpc_node.py", new Dictionary<string, string> { ["NODE_ENCODING"] = encoding }, name);

    /// <summary>A node that sends a body after its HEAD answers (<c>Python/head_body_node.py</c>).</summary>
    public static Task<PythonXmlRpcNode> StartBodyAfterHeadAsync(string name) => StartAsync(name, "head_body_node.py");

    /// <summary>
    /// The node over HTTPS, served by Python's own <c>ssl</c> module with this certificate, at
    /// https://localhost:port; with <paramref name="clientCaFile"/> it requires a client certificate from that CA.
    /// </summary>
    public static Task<PythonXmlRpcNode> StartHttpsAsync(string name, string certificateFile, string keyFile, string? clientCaFile = null) =>
        StartAsync(name, "xmlrpc_node.py", new Dictionary<string, string>
        {
            ["NODE_TLS_CERT"] = certificateFile,
            ["NODE_TLS_KEY"] = keyFile,
            ["NODE_TLS_CLIENT_CA"] = clientCaFile ?? "",
        }, name);

    private static Task<PythonXmlRpcNode> StartAsync(string name, string script, params string[] args) =>
        StartAsync(name, script, null, args);

    private static async Task<PythonXmlRpcNode> StartAsync(string name, string script, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var port = FreePort.Next();
        var process = PythonScript.Start(script, environment, [.. args, port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (ready is null || !ready.StartsWith("ready ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the Python XML-RPC node did not start: {ready} {await process.StandardError.ReadToEndAsync()}");
        }

        return new PythonXmlRpcNode(name, process, port, environment?.ContainsKey("NODE_TLS_CERT") == true);
    }

    /// <summary>From now on every call raises Fault(1007) with a faultString of this length (over 1,400 bytes: gzip-encoded).</summary>
    public Task OverloadAsync(int faultLength = 20) => CallAsync(Address, "set_overloaded", 1, 1, faultLength);

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Makes <paramref name="count"/> calls with Python's <c>xmlrpc.client</c> and returns what each
    /// ended with: <c>{"result": ...}</c>, <c>{"fault": code, "faultString": ...}</c> or <c>{"error": ...}</c>.
    /// </summary>
    public static Task<IReadOnlyList<JsonElement>> CallAsync(string url, string method, int count, params int[] args) =>
        CallAsync(url, null, method, count, args);

    /// <summary>As <see cref="CallAsync(string, string, int, int[])"/>, verifying an https:// URL against the PEM bundle <paramref name="caFile"/>.</summary>
    public static Task<IReadOnlyList<JsonElement>> CallAsync(string url, string? caFile, string method, int count, params int[] args) =>
        CallWithAsync(url, caFile is null ? [] : new Dictionary<string, string> { ["CLIENT_CA_FILE"] = caFile }, method, count, args);

    /// <summary>As <see cref="CallAsync(string, string, int, int[])"/>, from <paramref name="threads"/> threads at once, each on its own connection.</summary>
    public static Task<IReadOnlyList<JsonElement>> CallAtOnceAsync(string url, int threads, string method, int count, params int[] args) =>
        CallWithAsync(url, new Dictionary<string, string> { ["CALL_THREADS"] = threads.ToString(System.Globalization.CultureInfo.InvariantCulture) }, method, count, args);

    private static async Task<IReadOnlyList<JsonElement>> CallWithAsync(string url, Dictionary<string, string> environment, string method, int count, int[] args)
    {
        using var process = PythonScript.Start("xmlrpc_calls.py", environment, [url, method, count.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args.Select(a => a.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync();
        var results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();
        return results.Length == count
            ? results
            : throw new InvalidOperationException($"xmlrpc.client made {results.Length} of {count} calls: {await process.StandardError.ReadToEndAsync()}");
    }
}

internal static class PythonScript
{
    public static Process Start(string script, params string[] args) => Start(script, null, args);

    public static Process Start(string script, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add("-u");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Python", script));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("these tests need python3 on PATH (bash .ci/run installs it): " + ex.Message, ex);
        }
    }
}

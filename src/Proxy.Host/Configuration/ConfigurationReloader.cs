using System.Runtime.InteropServices;
using Akka.Actor;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;
using Proxy.Actors.Nodes;
using Proxy.Host.Classification;
using Proxy.Host.Debug;

namespace Proxy.Host.Configuration;

/// <summary>
/// Applies configuration changes at run time (SPEC, ADR 0015): the <c>--config</c> file is watched,
/// and SIGHUP re-reads every source. A change is validated whole, as at start-up; an invalid one is
/// refused with one log line and the running configuration stays. Changes to <c>Proxy:Nodes</c>
/// apply at once (nodes added start cold, nodes removed finish their tries, weights change), and
/// so does a new <c>Proxy:Classifiers</c> chain (new tries judge with it; tries under way finish
/// with the old one); a change to any other key is logged as needing a restart.
/// </summary>
public sealed partial class ConfigurationReloader(
    IConfiguration configuration,
    ProxySettings started,
    ClassifierTypes classifierTypes,
    NodeStatusReader nodes,
    ILogger<ConfigurationReloader> logger,
    Hosting.NodeHostCheck? hostCheck = null,
    WatchedFile? watchedFile = null) : IHostedService, IDisposable
{
    private static readonly TimeSpan CoalesceWindow = TimeSpan.FromMilliseconds(100);

    private readonly SemaphoreSlim _applying = new(1, 1);
    private IReadOnlyList<NodeSettings> _nodes = started.Nodes;
    private readonly HashSet<string> _liveLevels = LiveLevels(configuration);
    // The running values of the keys a change of which waits for a restart: what a reload is
    // compared with, so a file put back to them says nothing (compared with the last file, it
    // said "needs a restart" for the very values running).
    private readonly Dictionary<string, string?> _restartKeys = RestartKeys(configuration, LiveLevels(configuration));
    private KeyValuePair<string, string?>[] _chain = ClassifierKeys(configuration);
    private readonly string _discovered = Discovery(started);
    private IDisposable? _watch;
    private PosixSignalRegistration? _sighup;
    private int _queued;

    /// <summary>The last reload's outcome, for <c>/debug/nodes</c> (null: none yet).</summary>
    public ReloadResult? Last { get; private set; }

    /// <summary>
    /// Layers the JSON file over the other sources and watches it; a missing or unreadable file
    /// stops start-up. Later, a file that cannot be read (a half-written save, bad JSON) is refused
    /// like any invalid change, instead of escaping the file watcher's thread.
    /// </summary>
    public static WatchedFile AddWatchedFile(IConfigurationBuilder configuration, string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new ProxyConfigurationException("--config", $"'{path}' does not exist");
        }

        var watched = new WatchedFile(path);
        try
        {
            configuration.AddJsonFile(source =>
            {
                // Polled (every 4 s), not inotify: a file reached through a symlink (a Kubernetes
                // ConfigMap's ..data swap) changes without an event on its own path.
                source.FileProvider = new PhysicalFileProvider(Path.GetDirectoryName(full)!)
                {
                    UsePollingFileWatcher = true,
                    UseActivePolling = true,
                };
                source.Path = Path.GetFileName(full);
                source.Optional = false;
                source.ReloadOnChange = true;
                source.ReloadDelay = 100;
                source.OnLoadException = context =>
                {
                    if (watched.Loaded)
                    {
                        watched.Error = Describe(context.Exception);
                        context.Ignore = true;
                    }
                };
            });
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new ProxyConfigurationException("--config", $"'{path}' cannot be read: {Describe(ex)}");
        }

        watched.Loaded = true;
        return watched;
    }

    /// <summary>
    /// Why a configuration file cannot be read, on one line: for bad JSON the parser's own words
    /// and where (line and column, from 1), not the provider's "Could not parse the JSON file".
    /// </summary>
    internal static string Describe(Exception ex)
    {
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Text.Json.JsonException { LineNumber: { } line, BytePositionInLine: { } column } json)
            {
                var words = json.Message;
                var cut = words.IndexOf(" Path:", StringComparison.Ordinal) is var p and >= 0 ? p : words.IndexOf(" LineNumber:", StringComparison.Ordinal);
                return $"{(cut >= 0 ? words[..cut] : words).ReplaceLineEndings(" ")} (line {line + 1}, column {column + 1})";
            }
        }

        return (ex.InnerException ?? ex).Message.ReplaceLineEndings(" ");
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _watch = ChangeToken.OnChange(configuration.GetReloadToken, Changed);
        if (!OperatingSystem.IsWindows() && configuration is IConfigurationRoot root)
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                LogSighup(logger);
                root.Reload();
            });
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _watch?.Dispose();
        _sighup?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _sighup?.Dispose();
        _applying.Dispose();
    }

    // One reload raises a change event per configuration source (SIGHUP: three), a file save one
    // or two: those of one burst are applied once, by the one queued first, after they settled.
    private void Changed()
    {
        if (Interlocked.Exchange(ref _queued, 1) == 0)
        {
            _ = ApplyQueuedAsync();
        }
    }

    private async Task ApplyQueuedAsync()
    {
        await Task.Delay(CoalesceWindow).ConfigureAwait(false);
        Volatile.Write(ref _queued, 0);
        await ApplyLoggedAsync().ConfigureAwait(false);
    }

    // From the change token's thread: nothing may escape it unobserved.
    private async Task ApplyLoggedAsync()
    {
        try
        {
            await ApplyAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException or InvalidOperationException)
        {
            LogFailed(logger, ex.Message);
            Last = new ReloadResult(DateTimeOffset.UtcNow, "failed", ex.Message);
        }
    }

    /// <summary>Validates the configuration as it now reads and applies what changed; answers the outcome.</summary>
    public async Task<ReloadResult> ApplyAsync()
    {
        await _applying.WaitAsync().ConfigureAwait(false);
        try
        {
            if (watchedFile is not null && !File.Exists(watchedFile.FullPath))
            {
                // .NET reads a file gone at reload as empty; that is not a configuration.
                var reason = $"--config: '{watchedFile.Path}' is gone";
                LogRefused(logger, reason);
                return Last = new ReloadResult(DateTimeOffset.UtcNow, "refused", reason);
            }

            if (watchedFile?.TakeError() is { } unreadable)
            {
                var reason = $"--config: '{watchedFile.Path}' cannot be read: {unreadable}";
                LogRefused(logger, reason);
                return Last = new ReloadResult(DateTimeOffset.UtcNow, "refused", reason);
            }

            ProxySettings next;
            try
            {
                next = ProxySettingsFactory.Create(configuration, classifierTypes, checkAccessLogFile: false);
                _ = Hosting.SerilogSinkAssemblies.Reader(configuration);
            }
            catch (ProxyConfigurationException ex)
            {
                LogRefused(logger, ex.Message);
                return Last = new ReloadResult(DateTimeOffset.UtcNow, "refused", ex.Message);
            }

            var (changes, added) = await ApplyNodesAsync(next.Nodes).ConfigureAwait(false);

            // A new name that resolves to nothing is said soon, without holding the next reload up while a lookup hangs.
            _ = hostCheck?.CheckAsync(added, CancellationToken.None);

            var chain = ClassifierKeys(configuration);
            if (!chain.SequenceEqual(_chain))
            {
                await nodes.ChangeAsync(new NodeSupervisor.ReplaceClassifiers(next.Classifiers), CancellationToken.None).ConfigureAwait(false);
                _chain = chain;
                changes.Add($"classifier chain [{string.Join(", ", next.Classifiers.Select(c => c.Name))}]");
            }

            var restartKeys = RestartKeys(configuration, _liveLevels);
            var resolveChanged = Discovery(next) != _discovered;
            var needRestart = restartKeys.Where(k => !_restartKeys.TryGetValue(k.Key, out var v) || v != k.Value).Select(k => k.Key)
                .Concat(_restartKeys.Keys.Where(k => !restartKeys.ContainsKey(k)))
                .Concat(resolveChanged ? ["Proxy:Nodes (a node with Resolve)"] : [])
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .ToArray();
            if (needRestart.Length > 0)
            {
                LogNeedsRestart(logger, string.Join(", ", needRestart));
            }

            var summary = changes.Count == 0 ? "no node changed" : string.Join("; ", changes);
            LogApplied(logger, summary);
            var result = new ReloadResult(DateTimeOffset.UtcNow, "applied", needRestart.Length == 0 ? summary : $"{summary}; needs a restart to apply: {string.Join(", ", needRestart)}");

            // A file save can raise several change events; a later one that finds nothing new must
            // not hide what the first applied.
            if (changes.Count > 0 || needRestart.Length > 0 || Last is null || Last.Result != "applied")
            {
                Last = result;
            }

            return result;
        }
        finally
        {
            _applying.Release();
        }
    }

    // What changed, and the nodes added or moved to another address (those started cold).
    private async Task<(List<string> Changes, List<NodeSettings> Added)> ApplyNodesAsync(IReadOnlyList<NodeSettings> next)
    {
        var changes = new List<string>();
        var added = new List<NodeSettings>();
        var before = _nodes.ToDictionary(n => n.Name, StringComparer.OrdinalIgnoreCase);
        var after = next.ToDictionary(n => n.Name, StringComparer.OrdinalIgnoreCase);

        // Additions first, removals last: a file that swaps every node ([n1] -> [n2, n3]) never
        // leaves the table empty in between (it did: 30 calls answered "no node available").
        foreach (var node in next)
        {
            if (!before.TryGetValue(node.Name, out var old))
            {
                await AddAsync(node).ConfigureAwait(false);
                added.Add(node);
                changes.Add($"added {node.Name}");
            }
            else if (old.Address.Original != node.Address.Original || old.ReuseConnections != node.ReuseConnections || old.Tls != node.Tls)
            {
                // Another address is another node: the old one finishes its tries, then the new starts cold.
                await nodes.ChangeAsync(new NodeSupervisor.RemoveNode(node.Name), CancellationToken.None).ConfigureAwait(false);
                await AddAsync(node).ConfigureAwait(false);
                added.Add(node);
                changes.Add(old.Address.Original != node.Address.Original
                    ? $"replaced {node.Name} ({old.Address.Original} -> {node.Address.Original})"
                    : $"replaced {node.Name} (its connection settings changed)");
            }
            else if (old.Weight != node.Weight)
            {
                await nodes.AdministerAsync(node.Name, new NodeActor.SetWeight(node.Weight, FromConfiguration: true), CancellationToken.None).ConfigureAwait(false);
                changes.Add($"{node.Name} weight {old.Weight} -> {node.Weight}");
            }
        }

        foreach (var gone in before.Keys.Where(n => !after.ContainsKey(n)))
        {
            await nodes.ChangeAsync(new NodeSupervisor.RemoveNode(gone), CancellationToken.None).ConfigureAwait(false);
            changes.Add($"removed {gone}");
        }

        _nodes = next;
        return (changes, added);
    }

    // A node of the same name that is still finishing its tries holds the name: wait for it.
    private async Task AddAsync(NodeSettings node)
    {
        var deadline = DateTime.UtcNow + started.Forwarding.ResponseTimeout + TimeSpan.FromSeconds(5);
        while (await nodes.ChangeAsync(new NodeSupervisor.AddNode(node), CancellationToken.None).ConfigureAwait(false) is NodeSupervisor.NodeChangeRefused refused)
        {
            if (refused.Reason != NodeChangeRefusal.Exists || DateTime.UtcNow > deadline)
            {
                LogNotAdded(logger, node.Name, refused.Message);
                return;
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    // The Resolve nodes as configured; they apply only at start-up.
    private static string Discovery(ProxySettings settings) =>
        string.Join(";", settings.DiscoveredNodes.Select(d => $"{d.Template.Name}={d.Template.Address.Original}/{d.Interval}/{d.Template.Tls}"));

    // Everything under Proxy but the nodes and the classifiers: these apply only at start-up.
    // Serilog's section is read once, when the logger is built: a change to it waits for a restart
    // too, but for the levels it was started with, which it re-reads itself (liveLevels).
    private static Dictionary<string, string?> RestartKeys(IConfiguration configuration, HashSet<string> liveLevels) =>
        configuration.GetSection("Proxy").AsEnumerable().Concat(configuration.GetSection("Serilog").AsEnumerable())
            .Where(k => k.Value is not null
                && !liveLevels.Contains(k.Key)
                && !k.Key.StartsWith("Proxy:Nodes:", StringComparison.OrdinalIgnoreCase)
                && !k.Key.StartsWith("Proxy:Classifiers:", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(k => k.Key, k => k.Value, StringComparer.OrdinalIgnoreCase);

    private static HashSet<string> LiveLevels(IConfiguration configuration) =>
        configuration.GetSection("Serilog:MinimumLevel").AsEnumerable().Where(k => k.Value is not null).Select(k => k.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);

    // The classifier chain as configured, to tell whether a reload changed it.
    private static KeyValuePair<string, string?>[] ClassifierKeys(IConfiguration configuration) =>
        [.. configuration.GetSection("Proxy:Classifiers").AsEnumerable().Where(k => k.Value is not null).OrderBy(k => k.Key, StringComparer.OrdinalIgnoreCase)];

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "SIGHUP: reading the configuration again")]
    private static partial void LogSighup(ILogger logger);

    [LoggerMessage(EventId = 21, Level = LogLevel.Error, Message = "Configuration change refused, the running configuration stays: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Configuration change applied: {Changes}")]
    private static partial void LogApplied(ILogger logger, string changes);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "Configuration change needs a restart to apply (the running values stay): {Keys}")]
    private static partial void LogNeedsRestart(ILogger logger, string keys);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "Configuration change could not be applied in full (the node set may be partly changed; save the file again): {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 24, Level = LogLevel.Error, Message = "Node {Node} could not be added: {Reason}")]
    private static partial void LogNotAdded(ILogger logger, string node, string reason);
}

/// <summary>The <c>--config</c> file, and why it could not be read at its last change (if it could not).</summary>
public sealed class WatchedFile(string path)
{
    private string? _error;

    public string Path { get; } = path;

    public string FullPath { get; } = System.IO.Path.GetFullPath(path);

    internal bool Loaded { get; set; }

    internal string? Error
    {
        set => Volatile.Write(ref _error, value);
    }

    internal string? TakeError() => Interlocked.Exchange(ref _error, null);
}

/// <summary>A reload's outcome: <c>applied</c> or <c>refused</c>, when, and what (or why).</summary>
public sealed record ReloadResult(DateTimeOffset At, string Result, string Message);

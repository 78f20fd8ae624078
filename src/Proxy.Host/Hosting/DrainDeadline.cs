using Proxy.Host.Configuration;
using Proxy.Host.Telemetry;

namespace Proxy.Host.Hosting;

/// <summary>
/// Tells a request cut because <c>Proxy:Shutdown:Drain</c> ran out from one whose client left.
/// Kestrel aborts what is still in flight when the host's stop token fires; the handler sees that
/// as any other abort. This service is handed the same token when the stop begins, so by the time
/// an abort reaches a request, <see cref="RanOut"/> already says why (HAProxy logs it "K", killed).
/// </summary>
internal sealed partial class DrainDeadline(ProxySettings settings, PrometheusProxyMetrics metrics, ILogger<DrainDeadline> logger) : IHostedLifecycleService
{
    // The host's stop token once a stop began; none before (never cancelled). A single reference
    // underneath: written once, read by every request that ends aborted.
    private CancellationToken _stop;

    /// <summary>The stop's drain has run out: whatever is still in flight is being cut by the proxy itself.</summary>
    public bool RanOut => _stop.IsCancellationRequested;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        _stop = cancellationToken;
        LogDraining(logger, metrics.TriesInFlight, settings.ShutdownDrain);
        cancellationToken.Register(() => LogRanOut(logger, settings.ShutdownDrain, metrics.TriesInFlight));
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: new connections refused; {InFlight} tries in flight at the nodes get up to {Drain} (Proxy:Shutdown:Drain) to finish")]
    private static partial void LogDraining(ILogger logger, int inFlight, TimeSpan drain);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Proxy:Shutdown:Drain ({Drain}) ran out: cutting what is still in flight ({InFlight} tries at the nodes)")]
    private static partial void LogRanOut(ILogger logger, TimeSpan drain, int inFlight);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

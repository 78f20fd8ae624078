using System.Diagnostics.Tracing;
using System.Globalization;

namespace Proxy.Host.Telemetry;

/// <summary>
/// Says in the proxy's log when spans cannot be exported, and when they can again. The OpenTelemetry
/// exporter reports its failures only on its EventSource, so a collector that is down or refusing
/// would otherwise lose every span without a word. The first failure warns at once; while failures
/// go on, a reminder with their count at most every <see cref="Reminder"/>; the first success after
/// them is logged too.
/// </summary>
public sealed class OtlpExportLog : EventListener
{
    private const string ExporterSource = "OpenTelemetry-Exporter-OpenTelemetryProtocol";
    private static readonly TimeSpan Reminder = TimeSpan.FromMinutes(1);

    // Initialised before the base constructor, which already reports the existing event sources.
    private readonly Lock _lock = new();
    private ILogger? _log;
    private Uri? _endpoint;
    private int _failures;
    private DateTime _remindedAt;

    public void Start(ILogger log, Uri endpoint)
    {
        _endpoint = endpoint;
        _log = log;
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == ExporterSource)
        {
            EnableEvents(eventSource, EventLevel.Informational);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (_log is not { } log)
        {
            return;
        }

        var failed = eventData.Level is EventLevel.Critical or EventLevel.Error or EventLevel.Warning;
        var succeeded = eventData.EventName?.Contains("ExportSuccess", StringComparison.OrdinalIgnoreCase) == true
            || eventData.Message?.StartsWith("Export succeeded", StringComparison.Ordinal) == true;
        lock (_lock)
        {
            var now = DateTime.UtcNow;
            if (failed)
            {
                if (++_failures == 1 || now - _remindedAt >= Reminder)
                {
                    _remindedAt = now;
                    log.LogWarning(
                        "Could not export spans to the OTLP collector {Endpoint} ({Failures} failed exports so far): {Reason}. Spans are dropped until it answers; requests are not affected",
                        _endpoint, _failures, Describe(eventData));
                }
            }
            else if (succeeded && _failures > 0)
            {
                log.LogInformation("Exporting spans to the OTLP collector {Endpoint} again, after {Failures} failed exports", _endpoint, _failures);
                _failures = 0;
            }
        }
    }

    private static string Describe(EventWrittenEventArgs e)
    {
        var payload = e.Payload?.ToArray() ?? [];
        var text = e.Message is { Length: > 0 } message
            ? string.Format(CultureInfo.InvariantCulture, message, payload)
            : $"{e.EventName}: {string.Join("; ", payload)}";
        // The exception's text can run over many lines: its first line says what happened.
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}

/// <summary>Runs <see cref="OtlpExportLog"/> for the life of the host.</summary>
internal sealed class OtlpExportLogService(Configuration.ProxySettings settings, ILogger<OtlpExportLog> log) : IHostedService, IDisposable
{
    private OtlpExportLog? _listener;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener = new OtlpExportLog();
        _listener.Start(log, settings.Tracing.OtlpEndpoint!);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener?.Dispose();
}

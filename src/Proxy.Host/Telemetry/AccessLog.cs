using System.Buffers;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Proxy.Actors.Requests;

namespace Proxy.Host.Telemetry;

/// <summary>How the access log writes its lines: <c>text</c> (one readable line) or <c>json</c> (one object per line).</summary>
public enum AccessLogFormat
{
    Text,
    Json,
}

/// <summary><c>Proxy:AccessLog</c>: on or off, the line format, and the file (null: standard output).</summary>
public sealed record AccessLogSettings(bool Enabled, AccessLogFormat Format, string? Path)
{
    public static AccessLogSettings Default { get; } = new(true, AccessLogFormat.Text, null);
}

/// <summary>One request as the access log tells it: captured on the request path, formatted off it.</summary>
public readonly record struct AccessLogEntry(
    DateTime At, IPAddress? Client, string Method, string Target, int Status, double ElapsedMs, IReadOnlyList<Attempt> Attempts, string? Refusal,
    System.Diagnostics.ActivityTraceId TraceId = default, string? Cut = null);

/// <summary>
/// One line per client request, as HAProxy and nginx log by default, at a cost the request path
/// does not feel: the request path only queues a small struct; a background loop, every 20 ms
/// while lines come (idle, it sleeps until one does), formats the queued lines into one reused buffer and writes them in batches of up to 64 KiB
/// (nginx's <c>access_log … buffer= flush=</c>). When the writer cannot keep up (a blocked stdout), lines are dropped and
/// counted (<c>proxy_access_log_dropped_total</c>), never waited for. A file destination is
/// reopened on SIGHUP, for logrotate.
/// </summary>
public sealed partial class AccessLog : BackgroundService
{
    private const int QueueLength = 65_536;
    private const int BatchBytes = 64 * 1024;

    // How often queued lines are written: a line reaches its destination within this. A queued
    // line holds its request's target and attempts alive; held 100 ms, they outlived a gen0
    // collection or two and were promoted, and the log on cost 3-5 MB of RSS (ADR 0017).
    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(20);

    private static readonly byte[] Arrow = " -> "u8.ToArray();

    private readonly AccessLogSettings _settings;
    private readonly ILogger<AccessLog> _logger;
    private readonly Channel<AccessLogEntry> _entries;
    private readonly ArrayBufferWriter<byte> _batch = new(BatchBytes * 2);
    private Utf8JsonWriter? _json;
    private Stream? _output;
    private PosixSignalRegistration? _sighup;
    private volatile bool _reopen;
    private string? _failure;
    private long _dropped;

    public AccessLog(AccessLogSettings settings, ILogger<AccessLog> logger)
    {
        _settings = settings;
        _logger = logger;
        _entries = Channel.CreateBounded<AccessLogEntry>(
            new BoundedChannelOptions(QueueLength) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite, AllowSynchronousContinuations = false },
            _ => Interlocked.Increment(ref _dropped));
    }

    public bool Enabled => _settings.Enabled;

    /// <summary>Lines dropped because the writer could not keep up.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues one request's line; never blocks (a full queue drops it and counts it).</summary>
    public void Write(in AccessLogEntry entry)
    {
        if (_settings.Enabled)
        {
            _entries.Writer.TryWrite(entry);
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_settings.Path is not null && !OperatingSystem.IsWindows())
        {
            // logrotate's postrotate: the file is reopened by name on the next batch.
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                _reopen = true;
            });
        }

        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _sighup?.Dispose();
        _json?.Dispose();
        _output?.Dispose();
        base.Dispose();
    }

    // On a thread of its own, as Serilog's async sink writes: a write to a slow disk or to a pipe
    // whose reader lags blocks in the kernel, and on a thread-pool worker it held every request
    // queued behind it (the pool runs as many workers as cores and adds one only when its queue
    // stops moving; Proxy.Host.csproj).
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _settings.Enabled
            ? Task.Factory.StartNew(() => Run(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : Task.CompletedTask;

    private void Run(CancellationToken stoppingToken)
    {
        Thread.CurrentThread.Name = "Proxy access log";

        // While lines come, on a cadence, not woken per line: waking per line would make every
        // request's line a wake-up and a write of its own (measured: 15 % of the throughput). While
        // none come, not at all: a timer ticking 50 times a second in an idle proxy woke the
        // thread pool's workers 8,000 times a second, 3 % of a core.
        var reader = _entries.Reader;
        try
        {
            while (reader.WaitToReadAsync(stoppingToken).AsTask().GetAwaiter().GetResult())
            {
                // A stop ends the cadence; the wait above then throws, and the drain below follows.
                while (!stoppingToken.WaitHandle.WaitOne(FlushInterval) && WriteQueued(reader))
                {
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Stopping: what is queued is still written.
        WriteQueued(reader);
    }

    /// <summary>Writes every line queued, in batches; false when there was none.</summary>
    private bool WriteQueued(ChannelReader<AccessLogEntry> reader)
    {
        var wrote = false;
        while (reader.TryPeek(out _))
        {
            WriteBatch(reader);
            wrote = true;
        }

        return wrote;
    }

    private void WriteBatch(ChannelReader<AccessLogEntry> reader)
    {
        var lines = 0;
        while (_batch.WrittenCount < BatchBytes && reader.TryRead(out var entry))
        {
            lines++;
            if (_settings.Format == AccessLogFormat.Json)
            {
                WriteJson(entry);
            }
            else
            {
                WriteText(entry);
            }
        }

        try
        {
            var output = Output();
            output.Write(_batch.WrittenSpan);
            output.Flush();
            if (_failure is not null)
            {
                _failure = null;
                LogWritingAgain(_logger, Destination);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A full disk or a vanished directory: these lines are lost, the proxy goes on serving.
            Interlocked.Add(ref _dropped, lines);
            if (ex.Message != _failure)
            {
                _failure = ex.Message;
                LogWriteFailed(_logger, Destination, ex.Message.TrimEnd('.'));
            }

            _output?.Dispose();
            _output = null;
        }
        finally
        {
            _batch.ResetWrittenCount();
        }
    }

    private string Destination => _settings.Path ?? "standard output";

    private Stream Output()
    {
        // A SIGHUP (only registered with a Path): the file is opened again by name. Taken once,
        // whether or not a file was open (none before the first line, or after a failed write).
        var reopen = _reopen;
        if (reopen)
        {
            _reopen = false;
            _output?.Dispose();
            _output = null;
        }

        if (_output is null)
        {
            _output = _settings.Path is { } path ? DescriptorStream.OpenAppending(path) : DescriptorStream.OpenStandardOutput();
            if (reopen)
            {
                // logrotate's postrotate: an operator checks the log to see the rotation was taken.
                LogReopened(_logger, Destination);
            }
        }

        return _output;
    }

    // 2026-12-02T03:15:00.123Z 10.0.0.7 POST /RPC2 -> 200 in 1.2 ms via [demo-1:overloaded demo-2:answered]
    // 2026-12-02T03:15:00.123Z 10.0.0.7 POST /RPC2 -> 504 in 30001.7 ms via [demo-1:timed-out] refused: node did not answer in time
    private void WriteText(in AccessLogEntry entry)
    {
        var size = 128 + entry.Method.Length + entry.Target.Length + (entry.Refusal?.Length ?? 0) + (entry.Cut?.Length ?? 0) + (entry.Attempts.Count * 64);
        while (true)
        {
            var span = _batch.GetSpan(size);
            if (TryWriteText(span, entry, out var written))
            {
                _batch.Advance(written);
                return;
            }

            size *= 2;
        }
    }

    private static bool TryWriteText(Span<byte> span, in AccessLogEntry entry, out int written)
    {
        written = 0;
        if (!entry.At.TryFormat(span, out var n, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture))
        {
            return false;
        }

        var at = n;
        if (!Put(span, ref at, " "u8) || !PutClient(span, ref at, entry.Client) || !Put(span, ref at, " "u8)
            || !PutAscii(span, ref at, entry.Method) || !Put(span, ref at, " "u8) || !PutAscii(span, ref at, entry.Target)
            || !Put(span, ref at, Arrow) || !entry.Status.TryFormat(span[at..], out n, default, System.Globalization.CultureInfo.InvariantCulture))
        {
            return false;
        }

        at += n;
        if (!Put(span, ref at, " in "u8) || !entry.ElapsedMs.TryFormat(span[at..], out n, "0.0", System.Globalization.CultureInfo.InvariantCulture))
        {
            return false;
        }

        at += n;
        if (!Put(span, ref at, " ms via ["u8))
        {
            return false;
        }

        for (var i = 0; i < entry.Attempts.Count; i++)
        {
            var attempt = entry.Attempts[i];
            if ((i > 0 && !Put(span, ref at, " "u8)) || !PutAscii(span, ref at, attempt.Node) || !Put(span, ref at, ":"u8) || !PutAscii(span, ref at, attempt.Result))
            {
                return false;
            }
        }

        if (!Put(span, ref at, "]"u8))
        {
            return false;
        }

        // The proxy answered itself (after the tries, if any): why.
        if (entry.Refusal is { } refusal && (!Put(span, ref at, " refused: "u8) || !PutAscii(span, ref at, refusal)))
        {
            return false;
        }

        // The answer was delivered in part: its head and some of its body, then an abort.
        if (entry.Cut is { } cut && (!Put(span, ref at, " cut: "u8) || !PutAscii(span, ref at, cut)))
        {
            return false;
        }

        // Last, so a line and its trace find each other: grep the trace id, or open it in the tracing system.
        if (entry.TraceId != default && (!Put(span, ref at, " trace="u8) || !PutAscii(span, ref at, entry.TraceId.ToHexString())))
        {
            return false;
        }

        if (!Put(span, ref at, "\n"u8))
        {
            return false;
        }

        written = at;
        return true;
    }

    // {"time":"…","client":"10.0.0.7","method":"POST","target":"/RPC2","status":200,"ms":1.2,"tries":[{"node":"demo-1","result":"answered"}],"traceId":"…"}
    private void WriteJson(in AccessLogEntry entry)
    {
        var json = _json ??= new Utf8JsonWriter(_batch, new JsonWriterOptions { SkipValidation = true });
        json.Reset(_batch);
        json.WriteStartObject();
        json.WriteString("time"u8, entry.At);
        if (entry.Client is { } client)
        {
            client = client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;
            Span<char> text = stackalloc char[64];
            json.WriteString("client"u8, client.TryFormat(text, out var length) ? text[..length] : client.ToString());
        }
        else
        {
            json.WriteNull("client"u8);
        }

        json.WriteString("method"u8, entry.Method);
        json.WriteString("target"u8, entry.Target);
        json.WriteNumber("status"u8, entry.Status);
        json.WriteNumber("ms"u8, Math.Round(entry.ElapsedMs, 3));
        json.WriteStartArray("tries"u8);
        foreach (var attempt in entry.Attempts)
        {
            json.WriteStartObject();
            json.WriteString("node"u8, attempt.Node);
            json.WriteString("result"u8, attempt.Result);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (entry.Refusal is { } refusal)
        {
            json.WriteString("refused"u8, refusal);
        }

        if (entry.Cut is { } cut)
        {
            json.WriteString("cut"u8, cut);
        }

        if (entry.TraceId != default)
        {
            json.WriteString("traceId"u8, entry.TraceId.ToHexString());
        }

        json.WriteEndObject();
        json.Flush();
        _batch.Write("\n"u8);
    }

    private static bool Put(Span<byte> span, ref int at, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.TryCopyTo(span[at..]))
        {
            return false;
        }

        at += bytes.Length;
        return true;
    }

    // Targets, methods and names are visible ASCII by the time they are logged (anything else was
    // refused); a refusal's reason may quote a client's bytes, so anything else becomes '?'.
    private static bool PutAscii(Span<byte> span, ref int at, string text)
    {
        if (span.Length - at < text.Length)
        {
            return false;
        }

        var target = span.Slice(at, text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            target[i] = c is >= ' ' and < '\x7f' ? (byte)c : (byte)'?';
        }

        at += text.Length;
        return true;
    }

    private static bool PutClient(Span<byte> span, ref int at, IPAddress? client)
    {
        if (client is null)
        {
            return Put(span, ref at, "-"u8);
        }

        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        Span<char> text = stackalloc char[64];
        if (!client.TryFormat(text, out var length))
        {
            return false;
        }

        if (span.Length - at < length)
        {
            return false;
        }

        Encoding.ASCII.GetBytes(text[..length], span[at..]);
        at += length;
        return true;
    }

    [LoggerMessage(EventId = 52, Level = LogLevel.Information, Message = "The access log reopened {Destination} (SIGHUP)")]
    private static partial void LogReopened(ILogger logger, string destination);

    [LoggerMessage(EventId = 51, Level = LogLevel.Information, Message = "The access log is written to {Destination} again")]
    private static partial void LogWritingAgain(ILogger logger, string destination);

    [LoggerMessage(EventId = 50, Level = LogLevel.Warning, Message = "The access log cannot be written to {Destination}: {Reason}; its lines are dropped until it can")]
    private static partial void LogWriteFailed(ILogger logger, string destination, string reason);
}

using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using Proxy.Actors.Requests;
using Proxy.Host.Telemetry;

namespace Proxy.Host.Forwarding;

/// <summary>
/// The client listener's only handler: hands each request to a new RequestActor (through the
/// RequestSupervisor) and writes the one outcome it completes. No Ask: the outcome arrives on a
/// TaskCompletionSource the RequestActor owns.
/// </summary>
internal sealed partial class ProxyRequestHandler(
    IRequiredActor<RequestSupervisor> requestSupervisor,
    ProxyRequestReader reader,
    PrometheusProxyMetrics metrics,
    ILogger<ProxyRequestHandler> logger)
{
    private IActorRef? _requests;

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var requests = _requests ??= await requestSupervisor.GetAsync(context.RequestAborted).ConfigureAwait(false);
        var request = await reader.ReadAsync(context).ConfigureAwait(false);
        var completion = new TaskCompletionSource<RequestOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        requests.Tell(new RequestSupervisor.Dispatch(request, completion));
        var outcome = await completion.Task.ConfigureAwait(false);
        var status = outcome is Refused refused ? refused.Status : ((Delivered)outcome).Answer.Status;
        metrics.RequestCompleted(status, outcome.Attempts.Count, Stopwatch.GetElapsedTime(started));
        await ProxyResponseWriter.WriteAsync(context, outcome).ConfigureAwait(false);

        if (logger.IsEnabled(LogLevel.Information))
        {
            LogRequest(logger, request.Method, request.PathAndQuery, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, string.Join(' ', outcome.Attempts));
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Method} {Path} -> {Status} in {ElapsedMs:0.0} ms via [{Attempts}]")]
    private static partial void LogRequest(ILogger logger, string method, string path, int status, double elapsedMs, string attempts);
}

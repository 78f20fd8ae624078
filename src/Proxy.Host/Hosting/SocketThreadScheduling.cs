using System.Globalization;
using System.Runtime.InteropServices;
using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>
/// On Linux, once the listeners are up, puts the runtime's socket event threads under
/// <c>SCHED_BATCH</c> (ADR 0010). Such a thread wakes on every batch of socket events, hands them
/// to the thread pool and sleeps again; under the default policy each wake-up preempts a busy
/// worker at once, so under load the proxy paid two context switches for every one or two events.
/// A batch thread waits for the running thread's turn to end instead and finds more events ready.
/// <c>Proxy:Tuning:BatchScheduleSocketThreads=false</c> keeps the kernel's default.
/// </summary>
internal sealed partial class SocketThreadScheduling(
    IHostApplicationLifetime lifetime,
    ProxySettings settings,
    ILogger<SocketThreadScheduling> logger) : IHostedService
{
    /// <summary>The name .NET gives each socket event thread (one per 30 cores, at least one).</summary>
    internal const string SocketThreadName = ".NET Sockets";

    private const int SchedBatch = 3;
    private const string TaskDirectory = "/proc/self/task";

    private CancellationTokenRegistration _started;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!settings.BatchScheduleSocketThreads)
        {
            LogKeptDefault(logger, "Proxy:Tuning:BatchScheduleSocketThreads is false");
        }
        else if (OperatingSystem.IsLinux())
        {
            // The event threads exist once Kestrel's first accept is pending, which is before this.
            _started = lifetime.ApplicationStarted.Register(Apply);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started.Dispose();
        return Task.CompletedTask;
    }

    private void Apply()
    {
        try
        {
            var (scheduled, failure) = BatchScheduleSocketThreads();
            if (failure is null)
            {
                LogScheduled(logger, scheduled);
                return;
            }

            LogKeptDefault(logger, failure);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            // No /proc to read, or no glibc to call: the threads keep the default, as on other systems.
            LogKeptDefault(logger, ex.Message);
        }
    }

    /// <summary>
    /// Sets <c>SCHED_BATCH</c> on every socket event thread of this process: how many it set, or why
    /// it set none (no such thread, or the kernel refused).
    /// </summary>
    private static (int Scheduled, string? Failure) BatchScheduleSocketThreads()
    {
        var scheduled = 0;
        foreach (var task in Directory.EnumerateDirectories(TaskDirectory))
        {
            string name;
            try
            {
                name = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
            }
            catch (IOException)
            {
                continue; // the thread has ended since the listing
            }

            if (name != SocketThreadName)
            {
                continue;
            }

            var tid = int.Parse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture);
            var parameters = 0; // struct sched_param { int sched_priority; }: 0 for a non-real-time policy
            if (SchedSetScheduler(tid, SchedBatch, ref parameters) != 0)
            {
                var error = Marshal.GetLastPInvokeError();
                return (scheduled, $"sched_setscheduler on thread {tid} failed: {Marshal.GetPInvokeErrorMessage(error)} (errno {error})");
            }

            scheduled++;
        }

        return scheduled == 0 ? (0, $"no '{SocketThreadName}' thread in {TaskDirectory}") : (scheduled, null);
    }

    // On Linux the call takes a thread id: the policy is per thread.
    [DllImport(Glibc.Library, EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SchedSetScheduler(int tid, int policy, ref int parameters);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Socket event threads scheduled as SCHED_BATCH: {Count}")]
    private static partial void LogScheduled(ILogger logger, int count);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "Socket event threads keep the default scheduling: {Reason}")]
    private static partial void LogKeptDefault(ILogger logger, string reason);
}

using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Proxy.Host.Hosting;

/// <summary>
/// Hands back native memory the process holds but no longer uses, every <see cref="Interval"/>.
/// The JIT keeps the scratch memory of each compilation in a cache (up to 16 MB) that the runtime
/// empties only when the finalizer thread runs, at most once every 2 s and a batch at a time;
/// that thread runs only when collections find something to finalize, so the ~8 MB the start-up
/// compilations left stayed until a first load, and went into its peak RSS. Each tick wakes the
/// finalizer thread, then (on Linux with glibc) gives glibc's free pages back (<c>malloc_trim</c>).
/// Elsewhere, or on a libc without <c>malloc_trim</c>, it only wakes the finalizer (ADR 0007).
/// </summary>
internal sealed partial class NativeMemoryTrimmer(ILogger<NativeMemoryTrimmer> logger) : BackgroundService
{
    // Over the runtime's 2 s between two flushes of the JIT's cache: each tick flushes one batch,
    // so what start-up compiled is handed back 2.5 to 5 s after it.
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2.5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var trim = OperatingSystem.IsLinux();
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            // Returns at once when nothing waits to be finalized; the runtime flushes the cache as
            // the finalizer thread wakes, before the finalizers run.
            GC.WaitForPendingFinalizers();
            if (trim && !TryTrim(out var reason))
            {
                LogUnavailable(logger, reason);
                trim = false;
            }
        }
    }

    /// <summary>One trim; false, with the reason, where glibc's <c>malloc_trim</c> cannot be called.</summary>
    internal static bool TryTrim([NotNullWhen(false)] out string? reason)
    {
        try
        {
            MallocTrim(0);
            reason = null;
            return true;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            reason = ex.Message;
            return false;
        }
    }

    // DllImport: a blittable call needs no marshalling code, nor the unsafe blocks LibraryImport asks for.
    [DllImport(Glibc.Library, EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Native memory is not trimmed: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}

using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Proxy.Host.Hosting;

/// <summary>
/// On Linux with glibc, hands the native heap's free pages back to the OS every
/// <see cref="Interval"/> (<c>malloc_trim</c>). The runtime's JIT and type loader allocate and
/// free native memory in bursts (start-up, the first load, tier-1 recompiles); glibc keeps what they
/// freed resident: about 8 MB after start-up, which a proxy loaded within 30 s of starting carried
/// into its peak RSS, hence every 10 s. Elsewhere, or on a libc without <c>malloc_trim</c>, it does
/// nothing (ADR 0007).
/// </summary>
internal sealed partial class NativeMemoryTrimmer(ILogger<NativeMemoryTrimmer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            if (!TryTrim(out var reason))
            {
                LogUnavailable(logger, reason);
                return;
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

    // glibc by its soname (plain "libc" needs the dev package's libc.so). DllImport: a blittable call
    // needs no marshalling code, nor the unsafe blocks LibraryImport asks for.
    [DllImport("libc.so.6", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Native memory is not trimmed: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason);
}

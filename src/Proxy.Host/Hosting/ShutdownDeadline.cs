using System.Runtime.InteropServices;

namespace Proxy.Host.Hosting;

/// <summary>
/// HAProxy's <c>hard-stop-after</c>: once a stop began (SIGTERM), the process is gone by
/// <c>Proxy:Shutdown:Drain</c> + <see cref="Grace"/>, whatever still holds it. What held it, seen:
/// a standard output nobody reads (a stopped <c>| less</c>, a full pipe to a dead log shipper).
/// Every console write then waits forever — Akka's shutdown messages on its scheduler thread,
/// the log sinks as they are flushed — and a stop that waits on them never ends.
/// </summary>
internal static class ShutdownDeadline
{
    /// <summary>What the stop may take beyond the drain: leaving the cluster, flushing the logs.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(10);

    /// <summary>The exit code of a process whose stop did not finish by the deadline.</summary>
    public const int ExitCode = 1;

    /// <summary>Arms the deadline when the application starts stopping; for a process's own host only.</summary>
    public static void Arm(IHostApplicationLifetime lifetime, TimeSpan drain) =>
        lifetime.ApplicationStopping.Register(() =>
        {
            // A thread of its own: thread-pool threads may all be the ones waiting on the console.
            var deadline = new Thread(() => Expire(drain + Grace)) { IsBackground = true, Name = "Shutdown deadline" };
            deadline.Start();
        });

    private static void Expire(TimeSpan after)
    {
        Thread.Sleep(after);

        // Straight to file descriptor 2: System.Console's writers share one lock, held by the write
        // that is stuck. Standard error may be the same blocked pipe (2>&1), so it is told from a
        // thread that is not waited for beyond a second.
        var tell = new Thread(() =>
        {
            try
            {
                using var stderr = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(2, ownsHandle: false), FileAccess.Write, bufferSize: 0);
                stderr.Write(System.Text.Encoding.UTF8.GetBytes(
                    $"the stop did not finish within Proxy:Shutdown:Drain + {Grace.TotalSeconds:0} s (a console write blocked?); exiting with code {ExitCode}\n"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
            }
        })
        { IsBackground = true };
        tell.Start();
        tell.Join(TimeSpan.FromSeconds(1));

        // Not Environment.Exit where it can be helped: it runs the process-exit handlers, and the
        // host's own waits for the stop that is stuck.
        if (OperatingSystem.IsLinux())
        {
            try
            {
                ExitNow(ExitCode);
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc (musl): the runtime's own exit, which may wait on the stuck stop.
            }
        }

        Environment.Exit(ExitCode);
    }

    [DllImport(Glibc.Library, EntryPoint = "_exit")]
    private static extern void ExitNow(int status);
}

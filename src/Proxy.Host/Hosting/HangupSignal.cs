using System.Runtime.InteropServices;

namespace Proxy.Host.Hosting;

/// <summary>
/// SIGHUP is the proxy's to handle (reread the configuration, reopen the access log), as it is
/// nginx's, even when it was started ignoring it: <c>nohup</c> sets SIGHUP to "ignore" before the
/// program starts, and .NET then never delivers it, so <c>kill -HUP</c> (logrotate's postrotate)
/// did nothing, silently. Handled, a hang-up still does not stop the proxy, which is what
/// <c>nohup</c> is for.
/// </summary>
internal static class HangupSignal
{
    private const int SigHup = 1;
    private static readonly IntPtr Ignore = 1; // SIG_IGN
    private static readonly IntPtr Default = 0; // SIG_DFL

    /// <summary>Undoes an inherited "ignore" on SIGHUP; before any <see cref="PosixSignalRegistration"/> for it.</summary>
    public static void TakeOver()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            if (Signal(SigHup, Default) is var previous && previous != Ignore)
            {
                Signal(SigHup, previous);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: SIGHUP keeps the disposition the process was started with.
        }
    }

    [DllImport("libc.so.6", EntryPoint = "signal")]
    private static extern IntPtr Signal(int signal, IntPtr handler);
}

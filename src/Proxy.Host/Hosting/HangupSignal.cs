using System.Runtime.InteropServices;

namespace Proxy.Host.Hosting;

/// <summary>
/// SIGHUP is the proxy's to handle (reread the configuration, reopen the access log) and never
/// stops it, as nginx's: not while it starts or stops, when no handler is registered yet or any
/// more (the default would end the process, exit 129: a terminal closed right after
/// <c>nohup proxy &amp;</c>), and not when it was started ignoring it: <c>nohup</c> sets SIGHUP to
/// "ignore" before the program starts, and .NET then never delivers it, so <c>kill -HUP</c>
/// (logrotate's postrotate) did nothing, silently.
/// </summary>
internal static class HangupSignal
{
    private const int SigHup = 1;
    private static readonly IntPtr Ignore = 1; // SIG_IGN
    private static readonly IntPtr Default = 0; // SIG_DFL

    // For the process's life: without a registration, SIGHUP's default action applies again.
    private static PosixSignalRegistration? _neverStops;

    /// <summary>Before any other <see cref="PosixSignalRegistration"/> for SIGHUP; once, by the process's entry point.</summary>
    public static void TakeOver()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (OperatingSystem.IsLinux())
        {
            HandOverQuietly();
        }

        _neverStops ??= PosixSignalRegistration.Create(PosixSignal.SIGHUP, static context => context.Cancel = true);
    }

    // .NET installs no handler while the disposition is "ignore", and until its handler is in,
    // "default" would end the process (a SIGHUP storm at start hit those 1-2 ms in a third of
    // starts). So "ignore" or "default" becomes a handler that does nothing — glibc's abs(int), pure
    // and harmless on a signal number — and the runtime installs its own over it. A handler
    // already there (the runtime's) is left as it is.
    private static void HandOverQuietly()
    {
        try
        {
            var nothing = NativeLibrary.GetExport(NativeLibrary.Load(Glibc.Library), "abs");
            if (Signal(SigHup, nothing) is var previous && previous != Ignore && previous != Default)
            {
                Signal(SigHup, previous);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl): SIGHUP keeps the disposition the process was started with.
        }
    }

    /// <summary>
    /// Ignores SIGHUP across a restart in place: <c>execve</c> resets a handler to "default", which
    /// ends the process, while "ignore" survives it, and the new process's <see cref="TakeOver"/>
    /// makes that the reload again. Answers the disposition to put back if the restart fails.
    /// </summary>
    public static IntPtr IgnoreAcrossRestart() => Signal(SigHup, Ignore);

    /// <summary>Puts back what <see cref="IgnoreAcrossRestart"/> answered.</summary>
    public static void Restore(IntPtr disposition) => Signal(SigHup, disposition);

    [DllImport(Glibc.Library, EntryPoint = "signal")]
    private static extern IntPtr Signal(int signal, IntPtr handler);
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Proxy.Host.Hosting;

/// <summary>
/// Caps the GC's gen1 budget at <see cref="Cap"/> for a serving proxy. Every gen0 collection finds
/// the requests in flight alive and promotes them to gen1, where they die; by default .NET collects
/// gen1 only after hundreds of MB have arrived, so that garbage went into the peak RSS (at 4,096
/// connections 413 MB, capped 329). .NET reads the cap from the environment only
/// (<c>DOTNET_GCGen1MaxBudget</c>; runtimeconfig.json has no key for it), so a proxy started without
/// it replaces itself once, before anything else runs, with the same program, arguments and
/// environment plus the variable: <c>execve</c> keeps the process id, the standard streams and the
/// signals ignored, so a supervisor, a container or <c>nohup</c> sees one process (ADR 0024).
/// An operator's own value is kept, 0 (the runtime's default) included.
/// </summary>
internal static class Gen1Budget
{
    public const string Variable = "DOTNET_GCGen1MaxBudget";

    /// <summary>6 MiB a heap, in the hexadecimal the runtime reads.</summary>
    public const string Cap = "0x600000";

    // The modes that serve nothing and exit at once: a health check every 10 s should not start twice.
    private static readonly string[] ShortLivedModes = ["--healthcheck", "--version", "--help", "-h", "--demo-node"];

    /// <summary>
    /// On Linux, when neither the variable nor its legacy <c>COMPlus_</c> form is set, re-executes
    /// the process with the cap; returns only when it did not (another OS, a short-lived mode, a
    /// debugger attached, or the exec failed: then one line on stderr says so and the proxy runs on).
    /// </summary>
    public static void ApplyByReexecuting(string[] args)
    {
        // A process started for a diagnostics tool (DOTNET_DiagnosticPorts) is left as it was started.
        if (!OperatingSystem.IsLinux() || Debugger.IsAttached || args.Any(ShortLivedModes.Contains)
            || Environment.GetEnvironmentVariable("DOTNET_DiagnosticPorts") is not null
            || Environment.GetEnvironmentVariable(Variable) is not null
            || Environment.GetEnvironmentVariable("COMPlus_GCGen1MaxBudget") is not null)
        {
            return;
        }

        string? failure;
        try
        {
            failure = Reexecute();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            failure = ex.Message;
        }

        Console.Error.WriteLine($"Proxy: could not restart itself with {Variable}={Cap} ({failure}); running without it (README \"Performance\")");
    }

    // Returns only on failure, with its reason.
    private static string Reexecute()
    {
        var argv = NulSeparated(File.ReadAllBytes("/proc/self/cmdline"));
        var environment = NulSeparated(File.ReadAllBytes("/proc/self/environ"));
        environment.Add(Encoding.UTF8.GetBytes($"{Variable}={Cap}"));
        var path = Native(Encoding.UTF8.GetBytes(ProgramPath(argv.Count > 0 ? argv[0] : null)));
        var nativeArgv = NativeList(argv);
        var nativeEnvironment = NativeList(environment);
        RemoveRuntimeEndpoints(Environment.ProcessId, StartTime());
        var hangup = HangupSignal.IgnoreAcrossRestart();
        Execve(path, nativeArgv, nativeEnvironment);
        var error = Marshal.GetLastPInvokeError();
        HangupSignal.Restore(hangup);
        Marshal.FreeHGlobal(path);
        foreach (var pointer in nativeArgv.Concat(nativeEnvironment))
        {
            Marshal.FreeHGlobal(pointer);
        }

        return $"execve: errno {error}";
    }

    // The path the program was started by, when it still leads to the running program: the kernel
    // names the process after that file, so a symlink's name stays what ps and pgrep show. A bare
    // name is looked up in PATH as the shell did. Otherwise the program's own (resolved) path.
    private static string ProgramPath(byte[]? started)
    {
        var program = Environment.ProcessPath ?? throw new IOException("the program's path is unknown");
        if (started is not { Length: > 0 } || Encoding.UTF8.GetString(started) is not { } name
            || !Encoding.UTF8.GetBytes(name).AsSpan().SequenceEqual(started))
        {
            return program;
        }

        var candidates = name.Contains('/')
            ? [name]
            : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(directory => Path.Combine(directory, name));
        return candidates.FirstOrDefault(candidate => Resolved(candidate) == program) ?? program;
    }

    private static string? Resolved(string path)
    {
        var native = Native(Encoding.UTF8.GetBytes(path));
        var resolved = RealPath(native, IntPtr.Zero);
        Marshal.FreeHGlobal(native);
        if (resolved == IntPtr.Zero)
        {
            return null;
        }

        var result = Marshal.PtrToStringUTF8(resolved);
        Free(resolved);
        return result;
    }

    // The process's start time in clock ticks (/proc/self/stat, field 22), which execve keeps; the
    // runtime names its diagnostics endpoints for it. Fields are counted after the name's last ')'.
    private static string StartTime()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
    }

    // The runtime's diagnostics socket and debugger pipes are named for the process id and its start
    // time, both of which execve keeps: left in place, they stopped the new runtime from making its
    // own, and dotnet-counters or dotnet-trace found a socket nobody listened on. Only this
    // process's own: another pid namespace sharing the temp directory may have the same pid.
    private static void RemoveRuntimeEndpoints(int pid, string startTime)
    {
        var temp = Path.GetTempPath();
        foreach (var name in new[] { $"dotnet-diagnostic-{pid}-{startTime}-socket", $"clr-debug-pipe-{pid}-{startTime}-in", $"clr-debug-pipe-{pid}-{startTime}-out" })
        {
            File.Delete(Path.Combine(temp, name));
        }
    }

    /// <summary>The entries of a /proc file whose entries each end in NUL (an empty argument stays).</summary>
    internal static List<byte[]> NulSeparated(byte[] content)
    {
        var entries = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < content.Length; i++)
        {
            if (content[i] == 0)
            {
                entries.Add(content[start..i]);
                start = i + 1;
            }
        }

        return entries;
    }

    private static IntPtr[] NativeList(List<byte[]> entries)
    {
        var list = new IntPtr[entries.Count + 1]; // execve's lists end in a null pointer
        for (var i = 0; i < entries.Count; i++)
        {
            list[i] = Native(entries[i]);
        }

        return list;
    }

    private static IntPtr Native(byte[] value)
    {
        var pointer = Marshal.AllocHGlobal(value.Length + 1);
        Marshal.Copy(value, 0, pointer, value.Length);
        Marshal.WriteByte(pointer, value.Length, 0);
        return pointer;
    }

    // DllImport: pointers and a blittable array need no marshalling code, nor the unsafe blocks LibraryImport asks for.
    [DllImport(Glibc.Library, EntryPoint = "execve", SetLastError = true)]
    private static extern int Execve(IntPtr path, IntPtr[] argv, IntPtr[] environment);

    [DllImport(Glibc.Library, EntryPoint = "realpath")]
    private static extern IntPtr RealPath(IntPtr path, IntPtr resolved);

    [DllImport(Glibc.Library, EntryPoint = "free")]
    private static extern void Free(IntPtr pointer);
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Proxy.Host.Hosting;

/// <summary>
/// Runtime settings .NET reads from the environment only (runtimeconfig.json has no key for them),
/// set for a serving proxy by replacing the process once, before anything else runs, with the same
/// program, arguments and environment plus the settings missing from it: <c>execve</c> keeps the
/// process id, the standard streams and the signals ignored, so a supervisor, a container or
/// <c>nohup</c> sees one process (ADR 0024). An operator's own value of each is kept.
/// <list type="bullet">
/// <item><c>DOTNET_GCGen1MaxBudget</c>: every gen0 collection finds the requests in flight alive and
/// promotes them to gen1, where they die; by default .NET collects gen1 only after hundreds of MB
/// have arrived, so that garbage went into the peak RSS (at 4,096 connections 413 MB, capped 329).</item>
/// <item><c>DOTNET_JitHostMaxSlabCache</c>: the JIT keeps up to 16 MB of its compilations' scratch
/// memory for the next ones; the first load compiles the request path in one burst, and that cache
/// went into the peak RSS (at 32 connections 108–110 MB, with a 1 MB cache 102–103).</item>
/// </list>
/// </summary>
internal static class EnvironmentOnlySettings
{
    /// <summary>The settings and their values, in the hexadecimal the runtime reads.</summary>
    public static readonly IReadOnlyList<(string Name, string Value)> Settings =
        [("GCGen1MaxBudget", "0x600000"), ("JitHostMaxSlabCache", "0x100000")];

    // A process started for a tool is left as it was started: a diagnostics port or a start suspended
    // for one (restarted, it would wait again), a startup hook or a profiler (each would run twice).
    private static readonly string[] StartedForATool =
        ["DiagnosticPorts", "DefaultDiagnosticPortSuspend", "STARTUP_HOOKS"];

    /// <summary>
    /// On Linux, when the process is the proxy's own (its <c>Main</c> is the process's entry point, not
    /// one a test host or another program invoked), nothing in <see cref="StartedForATool"/> is set and
    /// a setting is missing, re-executes it with the missing settings; returns only when it did not,
    /// having said why on stderr if the restart was tried and failed (the proxy runs on without them).
    /// </summary>
    public static void ApplyByReexecuting(string[] args, System.Reflection.Assembly caller)
    {
        if (!OperatingSystem.IsLinux() || Debugger.IsAttached || args.Any(ProxyApp.ShortLivedModes.Contains)
            || System.Reflection.Assembly.GetEntryAssembly() != caller)
        {
            return;
        }

        CheckOperatorValues();
        var missing = Settings.Where(setting => !IsSet("DOTNET_" + setting.Name) && !IsSet("COMPlus_" + setting.Name)).ToList();
        if (missing.Count == 0)
        {
            // Perhaps restarted: the endpoints the process before moved aside (its new ones are made).
            RuntimeEndpoints.RemoveMoved();
            return;
        }

        if (StartedForATool.Any(name => IsSet("DOTNET_" + name) || IsSet("COMPlus_" + name))
            || Environment.GetEnvironmentVariable("CORECLR_ENABLE_PROFILING") == "1")
        {
            return;
        }

        var added = missing.Select(setting => $"DOTNET_{setting.Name}={setting.Value}").ToList();
        string? failure;
        try
        {
            failure = Reexecute(added);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            failure = ex.Message.Split('\n')[0].TrimEnd();
        }

        Console.Error.WriteLine($"Proxy: could not restart itself with {string.Join(" ", added)} ({failure}); running without (README \"Performance\")");
    }

    // DefaultDiagnosticPortSuspend=0 is the runtime's default: no suspend, nothing a restart would repeat.
    private static bool IsSet(string name) => Environment.GetEnvironmentVariable(name) is { } value
        && !(value == "0" && name.EndsWith("DefaultDiagnosticPortSuspend", StringComparison.Ordinal));

    // .NET reads each value as hexadecimal, as far as it can: "banana" is 0xBA, with no word.
    private static void CheckOperatorValues()
    {
        foreach (var name in Settings.Select(setting => "DOTNET_" + setting.Name))
        {
            if (Environment.GetEnvironmentVariable(name) is { } value && !IsHexadecimal(value))
            {
                Console.Error.WriteLine($"Proxy: {name}={value} is not a hexadecimal number (e.g. 0x600000); .NET reads only its leading hexadecimal digits");
            }
        }
    }

    internal static bool IsHexadecimal(string value)
    {
        var digits = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value[2..] : value;
        return digits.Length > 0 && digits.All(char.IsAsciiHexDigit);
    }

    // Returns only on failure, with its reason.
    private static string Reexecute(List<string> added)
    {
        var argv = NulSeparated(File.ReadAllBytes("/proc/self/cmdline"));
        var environment = ReadEnvironment();
        environment.AddRange(added.Select(Encoding.UTF8.GetBytes));
        var program = ProgramPath(argv.Count > 0 ? argv[0] : null);
        if (!File.Exists(program))
        {
            return $"{program} is no longer there";
        }

        var size = argv.Concat(environment).Sum(entry => entry.Length + 1 + IntPtr.Size) + IntPtr.Size * 2;
        if (size > ArgumentSpace)
        {
            return $"its arguments and environment take {size} bytes, over the {ArgumentSpace} execve allows";
        }

        var path = Native(Encoding.UTF8.GetBytes(program));
        var nativeArgv = NativeList(argv);
        var nativeEnvironment = NativeList(environment);
        var endpoints = RuntimeEndpoints.MoveAside(Environment.ProcessId, StartTime());
        var hangup = HangupSignal.IgnoreAcrossRestart();
        Execve(path, nativeArgv, nativeEnvironment);
        var error = Marshal.GetLastPInvokeError();
        HangupSignal.Restore(hangup);
        endpoints.PutBack();
        Marshal.FreeHGlobal(path);
        foreach (var pointer in nativeArgv.Concat(nativeEnvironment))
        {
            Marshal.FreeHGlobal(pointer);
        }

        return $"execve: {Marshal.GetPInvokeErrorMessage(error)}";
    }

    // execve's room for arguments and environment together: a quarter of the stack limit, at least 128 KiB.
    private static long ArgumentSpace => Math.Max(128 * 1024, SystemConfiguration(ArgMaxName));

    // /proc/self/environ, byte for byte; a process whose /proc entries are root's (a program with file
    // capabilities run by another user) has .NET's view of it instead.
    private static List<byte[]> ReadEnvironment()
    {
        try
        {
            return NulSeparated(File.ReadAllBytes("/proc/self/environ"));
        }
        catch (UnauthorizedAccessException)
        {
            return [.. Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                .Select(entry => Encoding.UTF8.GetBytes($"{entry.Key}={entry.Value}"))];
        }
    }

    // The path the program was started by, when it still leads to the running program: the kernel
    // names the process after that file, so a symlink's name stays what ps and pgrep show. A bare
    // name is looked up in PATH as the shell did. Otherwise the program's own (resolved) path.
    private static string ProgramPath(byte[]? started)
    {
        var program = Environment.ProcessPath ?? throw new IOException("the program's path is unknown");
        // A name that is not UTF-8 would not survive the round trip to a .NET string and back.
        var name = started is { Length: > 0 } ? Encoding.UTF8.GetString(started) : null;
        if (name is null || !Encoding.UTF8.GetBytes(name).AsSpan().SequenceEqual(started))
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

    private const int ArgMaxName = 0; // _SC_ARG_MAX

    [DllImport(Glibc.Library, EntryPoint = "sysconf")]
    private static extern long SystemConfiguration(int name);

    /// <summary>
    /// The runtime's diagnostics socket and debugger pipes, named for the process id and its start
    /// time, both of which execve keeps: left in place, they stopped the new runtime from making its
    /// own (dotnet-counters found a socket nobody listened on). Moved aside, not deleted, so a failed
    /// restart puts them back; the restarted process removes what was moved. Only this process's
    /// own: another pid namespace sharing the temp directory may have the same pid.
    /// </summary>
    private sealed class RuntimeEndpoints
    {
        private const string Suffix = ".restarting";
        private readonly List<string> _moved = [];

        public static RuntimeEndpoints MoveAside(int pid, string startTime)
        {
            var endpoints = new RuntimeEndpoints();
            try
            {
                foreach (var path in Paths(pid, startTime).Where(File.Exists))
                {
                    File.Move(path, path + Suffix, overwrite: true);
                    endpoints._moved.Add(path);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                endpoints.PutBack();
                throw;
            }

            return endpoints;
        }

        /// <summary>In the restarted process: what the one before it moved aside.</summary>
        public static void RemoveMoved()
        {
            try
            {
                foreach (var path in Paths(Environment.ProcessId, StartTime()))
                {
                    File.Delete(path + Suffix);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Litter in the temp directory, nothing more.
            }
        }

        public void PutBack()
        {
            foreach (var path in _moved)
            {
                File.Move(path + Suffix, path, overwrite: true);
            }
        }

        private static IEnumerable<string> Paths(int pid, string startTime)
        {
            var temp = Path.GetTempPath();
            yield return Path.Combine(temp, $"dotnet-diagnostic-{pid}-{startTime}-socket");
            yield return Path.Combine(temp, $"clr-debug-pipe-{pid}-{startTime}-in");
            yield return Path.Combine(temp, $"clr-debug-pipe-{pid}-{startTime}-out");
        }
    }
}

using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Proxy.Host.Configuration;
using Serilog;
using Serilog.Settings.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>
/// The assemblies Serilog's configuration may name sinks from: those the proxy ships (Console,
/// File, Async, Debug, the compact JSON formatter) and those <c>Serilog:Using:N</c> names, loaded
/// by name or as a DLL beside the proxy's. Named up front, Serilog does not open every DLL in the
/// directory to look for sinks (1.4 MB of resident memory, and start-up time, for nothing).
/// </summary>
internal static class SerilogSinkAssemblies
{
    // Not a static field: the type's initializer would load these before Resolve looks for a section.
    private static List<Assembly> Shipped() =>
    [
        typeof(Serilog.ConsoleLoggerConfigurationExtensions).Assembly,
        typeof(Serilog.FileLoggerConfigurationExtensions).Assembly,
        typeof(Serilog.LoggerConfigurationAsyncExtensions).Assembly,
        typeof(Serilog.LoggerSinkConfigurationDebugExtensions).Assembly,
        typeof(Serilog.Formatting.Compact.CompactJsonFormatter).Assembly,
    ];

    private static int _resolvingBesideTheProxy;

    /// <summary>
    /// What reads the <c>Serilog</c> section into a logger, or null when the configuration has none:
    /// then Serilog has nothing to read, and neither the sinks nor Serilog's reader are loaded (about
    /// 1 MB resident). Throws <see cref="ProxyConfigurationException"/> naming the entry of an
    /// assembly that cannot be loaded.
    /// </summary>
    public static Action<LoggerConfiguration>? Reader(IConfiguration configuration) =>
        configuration.GetSection("Serilog").Exists() ? ReaderOf(configuration) : null;

    // Apart, and never inlined: compiling a method that names Serilog's reader's types loads its
    // assembly, whether or not the method gets that far.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Action<LoggerConfiguration> ReaderOf(IConfiguration configuration)
    {
        var options = Resolve(configuration);
        return logger => logger.ReadFrom.Configuration(configuration, options);
    }

    private static ConfigurationReaderOptions Resolve(IConfiguration configuration)
    {
        var assemblies = Shipped();
        foreach (var entry in configuration.GetSection("Serilog:Using").GetChildren())
        {
            if (string.IsNullOrWhiteSpace(entry.Value))
            {
                throw new ProxyConfigurationException(entry.Path, "is empty: name a Serilog sink's assembly (Serilog.Sinks.Seq)");
            }

            var name = entry.Value.Trim();
            // The file's name is what an operator sees beside the proxy: taken as the assembly's.
            name = name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;
            assemblies.Add(Usable(entry.Path, Load(entry.Path, name)));
        }

        return new ConfigurationReaderOptions(assemblies.Distinct().ToArray());
    }

    // Serilog lists the assembly's types to find sink methods: one whose dependencies are missing
    // fails there, so here, naming its entry, instead of crashing the start-up.
    private static Assembly Usable(string key, Assembly assembly)
    {
        try
        {
            _ = assembly.GetExportedTypes();
            return assembly;
        }
        catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException or ReflectionTypeLoadException or TypeLoadException)
        {
            var reason = (ex as ReflectionTypeLoadException)?.LoaderExceptions.FirstOrDefault()?.Message ?? ex.Message;
            throw new ProxyConfigurationException(key, $"'{assembly.GetName().Name}' is loaded but what it depends on is not (its DLLs go beside the proxy's, in {AppContext.BaseDirectory}): {reason.ReplaceLineEndings(" ").Trim()}");
        }
    }

    private static Assembly Load(string key, string name)
    {
        AssemblyName assemblyName;
        try
        {
            assemblyName = new AssemblyName(name);
        }
        catch (Exception ex) when (ex is FileLoadException or ArgumentException)
        {
            // ArgumentException: a Culture= this globalization-invariant process does not have.
            throw new ProxyConfigurationException(key, $"'{name}' is not an assembly name (Serilog.Sinks.Seq)");
        }

        if (string.IsNullOrEmpty(assemblyName.Name) || assemblyName.Name is "." or ".." || assemblyName.Name.IndexOfAny(['/', '\\']) >= 0)
        {
            throw new ProxyConfigurationException(key, $"'{name}' is not an assembly name (Serilog.Sinks.Seq), nor may it be a path: the DLL goes beside the proxy's");
        }

        var beside = Path.Combine(AppContext.BaseDirectory, assemblyName.Name + ".dll");
        try
        {
            try
            {
                return Assembly.Load(assemblyName);
            }
            catch (FileNotFoundException) when (File.Exists(beside))
            {
                // Not in the proxy's dependency list, but dropped beside it: loaded from there, and
                // what it depends on from there too.
            }

            if (Interlocked.Exchange(ref _resolvingBesideTheProxy, 1) == 0)
            {
                AssemblyLoadContext.Default.Resolving += static (context, dependency) =>
                    Path.Combine(AppContext.BaseDirectory, dependency.Name + ".dll") is var file && File.Exists(file) ? context.LoadFromAssemblyPath(file) : null;
            }

            return AssemblyLoadContext.Default.LoadFromAssemblyPath(beside);
        }
        catch (FileNotFoundException)
        {
            throw new ProxyConfigurationException(key, $"'{name}' cannot be loaded: put {assemblyName.Name}.dll beside the proxy's, in {AppContext.BaseDirectory}");
        }
        catch (Exception ex) when (ex is FileLoadException or BadImageFormatException)
        {
            throw new ProxyConfigurationException(key, $"'{name}' cannot be loaded from {beside}: {ex.Message.ReplaceLineEndings(" ").Trim()}");
        }
    }
}

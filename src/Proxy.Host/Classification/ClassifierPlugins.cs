using System.Reflection;
using System.Runtime.Loader;
using Akka.Actor;
using Proxy.Actors.Classification;
using Proxy.Host.Configuration;

namespace Proxy.Host.Classification;

/// <summary>
/// Loads the assemblies <c>Proxy:Plugins:N</c> names and registers each public, non-abstract
/// <see cref="ClassifierActor"/> subclass marked <see cref="ClassifierAttribute"/> whose public
/// constructor takes a <see cref="ClassifierConfiguration"/>, under the attribute's type name. Each
/// plugin gets a load context of its own: what the host itself carries (the contract in
/// Proxy.Actors, Akka, the framework) is shared, so a plugin's types are the host's; anything else
/// the plugin depends on is loaded from its own directory, beside the host's, never instead.
/// </summary>
internal static class ClassifierPlugins
{
    /// <returns>One line per plugin loaded, for the start-up log: its key, file and classifier types.</returns>
    public static IReadOnlyList<string> Load(IConfiguration configuration, ClassifierTypes types)
    {
        var entries = configuration.GetSection("Proxy:Plugins").GetChildren()
            .OrderBy(c => int.TryParse(c.Key, out var i) ? i : int.MaxValue)
            .ToArray();
        return entries.Select(entry => LoadOne(entry.Path, entry.Value, types)).ToArray();
    }

    private static string LoadOne(string key, string? path, ClassifierTypes types)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ProxyConfigurationException(key, "is empty: name a plugin assembly (a .dll built against the Proxy.Actors package)");
        }

        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new ProxyConfigurationException(key, $"'{path}' is a directory: name the plugin's .dll in it");
        }

        if (!File.Exists(full))
        {
            throw new ProxyConfigurationException(key, full == path ? $"'{path}' does not exist" : $"'{path}' ({full}) does not exist");
        }

        Type[] exported;
        try
        {
            var assembly = new PluginLoadContext(full).LoadFromAssemblyPath(full);
            exported = assembly.GetExportedTypes();
        }
        catch (BadImageFormatException)
        {
            throw new ProxyConfigurationException(key, $"'{path}' is not a .NET assembly");
        }
        catch (Exception ex) when (ex is FileLoadException or FileNotFoundException or ReflectionTypeLoadException or TypeLoadException)
        {
            throw new ProxyConfigurationException(key, $"'{path}' cannot be loaded: {(ex as ReflectionTypeLoadException)?.LoaderExceptions.FirstOrDefault()?.Message ?? ex.Message}");
        }

        var found = new List<string>();
        foreach (var type in exported)
        {
            if (type.GetCustomAttribute<ClassifierAttribute>() is not { } attribute)
            {
                continue;
            }

            if (!typeof(ClassifierActor).IsAssignableFrom(type) || type.IsAbstract || type.ContainsGenericParameters)
            {
                throw new ProxyConfigurationException(key, $"{type.FullName} is marked [Classifier] but is not a concrete ClassifierActor");
            }

            if (type.GetConstructor([typeof(ClassifierConfiguration)]) is null)
            {
                throw new ProxyConfigurationException(key, $"{type.FullName} has no public constructor taking a ClassifierConfiguration");
            }

            if (string.IsNullOrWhiteSpace(attribute.Type))
            {
                throw new ProxyConfigurationException(key, $"{type.FullName} has an empty [Classifier] type name");
            }

            if (attribute.Type != attribute.Type.Trim())
            {
                // ' twin ' would sit beside 'twin', told apart in no message.
                throw new ProxyConfigurationException(key, $"{type.FullName} has a [Classifier] type name with leading or trailing spaces ('{attribute.Type}')");
            }

            if (types.Contains(attribute.Type))
            {
                throw new ProxyConfigurationException(key, $"{type.FullName} is named '{attribute.Type}', a classifier type that already exists ({types.RegisteredBy(attribute.Type)})");
            }

            types.AddFromPlugin(attribute.Type, rule => Props.Create(type, rule), $"{type.FullName} of {key}, {full}");
            found.Add($"{attribute.Type} ({type.FullName})");
        }

        if (found.Count == 0)
        {
            throw new ProxyConfigurationException(key, $"'{path}' has no public ClassifierActor marked [Classifier(\"Type\")]");
        }

        return $"{key}: {full}, classifier types {string.Join(", ", found)}";
    }

    // The plugin's own dependencies from its directory; the host's assemblies (and the framework's) shared.
    private sealed class PluginLoadContext(string path) : AssemblyLoadContext(Path.GetFileNameWithoutExtension(path))
    {
        private readonly AssemblyDependencyResolver _resolver = new(path);

        protected override Assembly? Load(AssemblyName name)
        {
            if (IsHosts(name))
            {
                return null;
            }

            return _resolver.ResolveAssemblyToPath(name) is { } resolved ? LoadFromAssemblyPath(resolved) : null;
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } resolved ? LoadUnmanagedDllFromPath(resolved) : IntPtr.Zero;

        private static bool IsHosts(AssemblyName name) =>
            HostAssemblies.Value.Contains(name.Name ?? "");

        // Everything the host was started with: its own directory's assemblies and the framework's.
        private static readonly Lazy<HashSet<string>> HostAssemblies = new(() =>
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string trusted)
            {
                foreach (var file in trusted.Split(Path.PathSeparator))
                {
                    names.Add(Path.GetFileNameWithoutExtension(file));
                }
            }

            foreach (var loaded in AssemblyLoadContext.Default.Assemblies)
            {
                names.Add(loaded.GetName().Name ?? "");
            }

            return names;
        });
    }
}

using System.Configuration.Internal;
using System.Reflection;
using Akka.Configuration.Hocon;
using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>
/// Keeps Akka from starting .NET's app.config reader for nothing. Akka's
/// <c>ActorSystem.Create(name, setup)</c> reads the <c>akka</c> section of the app's <c>.config</c>
/// file even when the setup carries a configuration, and then discards what it read; Akka.Hosting's
/// system and the cluster's always carry one. The reader that read costs about 4 MB resident
/// (System.Configuration's host, System.Diagnostics.Process, System.Net.WebClient and the code
/// compiled for them; hot-path journal, sixteenth pass). Where the app has no <c>.config</c> file
/// there is no section to read: this answers <c>akka</c> with none and hands every other section,
/// for a host built on the proxy that reads <c>appSettings</c>, to .NET's reader, made at first use.
/// </summary>
internal sealed class AppConfigWithoutAkkaSection : IInternalConfigSystem
{
    internal const string AkkaSection = "akka";

    private readonly Lazy<IInternalConfigSystem> _reader;

    internal AppConfigWithoutAkkaSection(Func<IInternalConfigSystem> reader) => _reader = new(reader);

    public bool SupportsUserConfig => _reader.Value.SupportsUserConfig;

    public object? GetSection(string configKey) => configKey == AkkaSection ? null : _reader.Value.GetSection(configKey);

    public void RefreshConfig(string sectionName)
    {
        // A reader not made yet has nothing cached to refresh.
        if (_reader.IsValueCreated)
        {
            _reader.Value.RefreshConfig(sectionName);
        }
    }

    /// <summary>
    /// Puts this in front of .NET's reader for the whole process, unless the app has a
    /// <c>.config</c> file (then read now: <see cref="ProxyConfigurationException"/> if malformed),
    /// the process read its configuration already, or this runtime's System.Configuration lacks
    /// the hooks (then nothing changes).
    /// </summary>
    internal static void Install()
    {
        var entry = Assembly.GetEntryAssembly();
        if (entry is null)
        {
            return;
        }

        var file = AppConfigFile(AppContext.BaseDirectory, entry.ManifestModule.Name);
        if (File.Exists(file))
        {
            RefuseUnreadable(file);
            return;
        }

        // The factory is System.Configuration's own way in for hosts that bring their own reader
        // (ASP.NET's, on .NET Framework): internal, reached through its public interface.
        var library = typeof(System.Configuration.ConfigurationManager).Assembly;
        var factoryType = library.GetType("System.Configuration.Internal.InternalConfigSettingsFactory");
        var readerConstructor = library.GetType("System.Configuration.ClientConfigurationSystem")
            ?.GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic, Type.EmptyTypes);
        if (factoryType is null || readerConstructor is null ||
            Activator.CreateInstance(factoryType, nonPublic: true) is not IInternalConfigSettingsFactory factory)
        {
            return;
        }

        try
        {
            factory.SetConfigurationSystem(
                new AppConfigWithoutAkkaSection(() => (IInternalConfigSystem)readerConstructor.Invoke(BindingFlags.DoNotWrapExceptions, null, null, null)),
                initComplete: true);
        }
        catch (InvalidOperationException)
        {
            // A host built on the proxy read its configuration before running it: keep that reader.
        }
    }

    // Akka reads the file's akka section as it builds the actor system, where a malformed file ended
    // the process with a stack trace: read it first, to refuse it in one line as any other setting.
    private static void RefuseUnreadable(string file)
    {
        try
        {
            if (System.Configuration.ConfigurationManager.GetSection(AkkaSection) is AkkaConfigurationSection section)
            {
                _ = section.AkkaConfig;
            }
        }
        catch (System.Configuration.ConfigurationErrorsException ex)
        {
            // "Configuration system failed to initialize" wraps what is wrong, and where.
            var cause = ex.InnerException as System.Configuration.ConfigurationErrorsException ?? ex;
            var where = cause.Line > 0 ? $"line {cause.Line}: " : "";
            throw new ProxyConfigurationException(file, $"{where}{cause.BareMessage.ReplaceLineEndings(" ")}");
        }
        catch (Akka.Configuration.ConfigurationException ex)
        {
            throw new ProxyConfigurationException(file, $"its akka section: {ex.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>Where .NET's reader looks for the app's file: the entry module's path plus <c>.config</c>.</summary>
    internal static string AppConfigFile(string baseDirectory, string entryModule) => Path.Combine(baseDirectory, entryModule) + ".config";
}

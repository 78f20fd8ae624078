using System.Net;
using System.Reflection;
using Akka.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Proxy.Actors.Tls;
using Proxy.Actors.Weighting;
using Proxy.Host.Classification;
using Proxy.Host.Clustering;
using Proxy.Host.Configuration;
using Proxy.Host.Debug;
using Proxy.Host.Demo;
using Proxy.Host.Forwarding;
using Proxy.Host.Hosting;
using Proxy.Host.Telemetry;
using Serilog;

namespace Proxy.Host;

/// <summary>Builds and runs the proxy host: Kestrel listeners, Serilog, the actor system, the endpoints.</summary>
public static class ProxyApp
{
    /// <summary>
    /// Call first in <c>Main</c>, before anything else runs: on Linux, unless they are set, it restarts
    /// the process in place (<c>execve</c>: same process id, arguments and environment) with the
    /// runtime settings .NET reads from the environment only (the GC's gen1 budget capped at 6 MiB,
    /// the JIT's scratch cache at 1 MB); it returns when there is nothing to do (README "Performance",
    /// ADR 0024).
    /// </summary>
    /// <remarks>
    /// Only a <c>Main</c> that is the process's entry point restarts it: one a test host runs
    /// (<c>WebApplicationFactory</c>) or another program invokes leaves the process as it is.
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static void ApplyRuntimeSettings(string[] args) => EnvironmentOnlySettings.ApplyByReexecuting(args, Assembly.GetCallingAssembly());

    // The switches that run something other than the proxy and exit (a health check, a demo node, the usage, the version).
    private const string HealthCheckSwitch = "--healthcheck";
    private const string DemoNodeSwitch = "--demo-node";
    private const string HelpSwitch = "--help";
    private const string HelpShortSwitch = "-h";
    private const string VersionSwitch = "--version";

    /// <summary>The switches that serve nothing and exit at once: no restart in place for them.</summary>
    internal static readonly string[] ShortLivedModes = [HealthCheckSwitch, DemoNodeSwitch, HelpSwitch, HelpShortSwitch, VersionSwitch];

    /// <summary>
    /// Runs until SIGTERM/Ctrl+C. Invalid configuration prints one line and returns 2.
    /// <paramref name="configure"/> may extend the host first, e.g. <c>builder.AddClassifier(...)</c>.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        if (args.Contains(HealthCheckSwitch))
        {
            return await HealthCheck.RunAsync(args.Where(a => a != HealthCheckSwitch).ToArray()).ConfigureAwait(false);
        }

        if (args.Contains(DemoNodeSwitch))
        {
            return await DemoNodes.RunOneAsync(args.Where(a => a != DemoNodeSwitch).ToArray()).ConfigureAwait(false);
        }

        if (args.Contains(HelpSwitch) || args.Contains(HelpShortSwitch))
        {
            await Console.Out.WriteAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        if (args.Contains(VersionSwitch))
        {
            await Console.Out.WriteLineAsync(ProductVersion).ConfigureAwait(false);
            return 0;
        }

        HangupSignal.TakeOver();
        WebApplication app;
        try
        {
            AppConfigWithoutAkkaSection.Install();
            var builder = CreateBuilder(args);
            configure?.Invoke(builder);
            app = Build(builder);
        }
        catch (ProxyConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return 2;
        }

        // Read before the run: once it ends the host is disposed, and its services with it.
        var stopping = app.Lifetime.ApplicationStopping;
        ShutdownDeadline.Arm(app.Lifetime, app.Services.GetRequiredService<ProxySettings>().ShutdownDrain);
        try
        {
            await app.RunAsync().ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // SIGTERM while the listeners were being bound: a stop, not a crash (it was exit 134).
            return 0;
        }
        catch (IOException ex) when (ex.InnerException is AddressInUseException)
        {
            await Console.Error.WriteLineAsync($"cannot listen: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            await Console.Error.WriteLineAsync($"cannot listen: {ex.Message} ({ex.SocketErrorCode})").ConfigureAwait(false);
            return 2;
        }
    }

    /// <summary>Builds the proxy from <paramref name="args"/> (configuration) with the built-in classifier types.</summary>
    public static WebApplication Build(string[] args) => Build(CreateBuilder(args));

    /// <summary>The host builder with configuration loaded; extend it, then call <see cref="Build(WebApplicationBuilder)"/>.</summary>
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var (rest, configFile) = TakeConfigFile(args);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = MapDemoSwitch(rest) });
        ClassifierBuilderExtensions.Types(builder.Services);
        if (configFile is not null)
        {
            builder.Services.AddSingleton(ConfigurationReloader.AddWatchedFile(builder.Configuration, configFile));
        }

        return builder;
    }

    /// <summary>Validates the configuration (throws <see cref="ProxyConfigurationException"/>) and wires the proxy.</summary>
    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var classifierTypes = ClassifierBuilderExtensions.Types(builder.Services);
        var plugins = ClassifierPlugins.Load(builder.Configuration, classifierTypes);
        var settings = ProxySettingsFactory.Create(builder.Configuration, classifierTypes);
        // Before anything binds (the actor system binds the cluster port as soon as it is built).
        PortCheck.EnsureFree(settings);
        var serilogSection = SerilogSinkAssemblies.Reader(builder.Configuration);

        builder.Services.AddSerilog((services, logger) =>
        {
            // Serilog tells of a sink it cannot find or a setting it cannot use only through its
            // SelfLog: on stderr while its configuration is read, a typo in Serilog:WriteTo is seen.
            // Only then: a sink's own complaints under load are not written on the request path.
            Serilog.Debugging.SelfLog.Enable(SerilogComplaint);
            try
            {
                logger
                    .MinimumLevel.Information()
                    .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
                    .MinimumLevel.Override("Microsoft.Hosting", Serilog.Events.LogEventLevel.Information)
                    // Off, not merely quiet: while this logger is enabled at any level, ASP.NET Core starts
                    // an Activity (and its async-local context) for every request. The proxy logs requests itself.
                    .MinimumLevel.Override("Microsoft.AspNetCore.Hosting.Diagnostics", LevelOff);
                serilogSection?.Invoke(logger);

                logger
                    .Enrich.FromLogContext()
                    // One line per request: the console is written off the request path.
                    .WriteTo.Async(sink => sink.Console(outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}"));
            }
            catch (Exception ex) when (ex is not ProxyConfigurationException)
            {
                // A level, an argument or a type Serilog cannot use: one line, as for any other key.
                throw new ProxyConfigurationException("Serilog", ex.Message.ReplaceLineEndings(" ").Trim());
            }
            finally
            {
                Serilog.Debugging.SelfLog.Disable();
            }
        });

        var certificate = OpenListenerCertificate(settings);

        // One count over every client listener; the debug listener is never capped, so an
        // operator can still look in while clients have taken every connection.
        var clientConnections = settings.MaxConnections is { } max ? new ConnectionCap(max) : null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // RFC 9112 section 3.2.2: an absolute-form target's authority replaces the Host header
            // (nginx does so); Kestrel's default answers a mismatch with a bare 400.
            kestrel.AllowHostHeaderOverride = true;
            // The node's header values as HttpClient read them (Latin-1), written back as the same bytes.
            kestrel.ResponseHeaderEncodingSelector = static _ => System.Text.Encoding.Latin1;
            kestrel.Limits.MaxRequestBodySize = settings.MaxRequestBody;
            kestrel.Limits.RequestHeadersTimeout = settings.RequestHeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = settings.KeepAliveTimeout;
            kestrel.Limits.MinRequestBodyDataRate = settings.MinRequestBodyRate == 0
                ? null
                : new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(settings.MinRequestBodyRate, TimeSpan.FromSeconds(5));
            foreach (var address in settings.Listen)
            {
                Listen(kestrel, address, debug: false, clientConnections, certificate);
            }

            Listen(kestrel, settings.DebugListen, debug: true, null, certificate);
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownDrain);

        var balancer = new NodeBalancer(settings.Nodes.Select(n => n.Weight).ToArray());
        var metrics = new PrometheusProxyMetrics();
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(settings.AccessLog);
        builder.Services.AddSingleton<AccessLog>();
        builder.Services.AddHostedService(services => services.GetRequiredService<AccessLog>());
        builder.Services.AddSingleton<ActorTreeReader>();
        builder.Services.AddSingleton<RecentRedispatches>();
        Tracing.AddExport(builder.Services, settings.Tracing, Version);
        builder.Services.AddSingleton(new ProxyRequestReader(settings.RequestBufferLimit, settings.TrustedProxies));
        builder.Services.AddSingleton<DrainDeadline>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DrainDeadline>());
        builder.Services.AddSingleton<ProxyRequestHandler>();
        builder.Services.AddSingleton<NodeStatusReader>();
        builder.Services.AddHostedService<NativeMemoryTrimmer>();
        if (certificate is not null)
        {
            builder.Services.AddSingleton(certificate);
            builder.Services.AddHostedService<ListenerCertificateWatcher>();
        }

        builder.Services.AddHostedService<SocketThreadScheduling>();
        builder.Services.AddSingleton<NodeHostCheck>();
        builder.Services.AddHostedService(services => services.GetRequiredService<NodeHostCheck>());
        builder.Services.AddSingleton<ConfigurationReloader>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ConfigurationReloader>());
        var clusterBridge = settings.Cluster is null ? null : new ClusterBridgeHandle();
        if (clusterBridge is not null)
        {
            builder.Services.AddSingleton(clusterBridge);
            builder.Services.AddSingleton<ClusterMembership>();
            builder.Services.AddHostedService(services => services.GetRequiredService<ClusterMembership>());
        }

        if (settings.Demo)
        {
            builder.Services.AddHostedService<DemoNodes>();
        }

        builder.Services.AddAkka("proxy", (akka, services) =>
        {
            akka
            // The host owns SIGTERM: Kestrel drains first, then the actor system stops.
            .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
            .AddHocon(UnboundTypeSerializer.Hocon, HoconAddMode.Prepend)
            .AddHocon(SchedulerTick(settings), HoconAddMode.Prepend)
            .ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<AkkaLogForwarder>();
            })
            .AddSetup(new Akka.Hosting.Logging.LoggerFactorySetup(services.GetRequiredService<ILoggerFactory>()))
            .WithProxyActors(settings, balancer, metrics, clusterBridge);
        });

        var app = builder.Build();
        var accessLog = app.Services.GetRequiredService<AccessLog>();
        metrics.TrackAccessLogDrops(() => accessLog.Dropped);
        if (clientConnections is not null)
        {
            clientConnections.Log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<ConnectionCap>();
            metrics.TrackConnectionsRefused(() => clientConnections.Refused);
        }
        StartupWarnings.Log(app.Logger, settings.Warnings);
        foreach (var plugin in plugins)
        {
            app.Logger.LogInformation("Loaded classifier plugin {Plugin}", plugin);
        }


        // The debug listener gets its own pipeline; everything else is client traffic.
        app.MapWhen(IsDebugListener, debug => DebugEndpoints.Map(debug, settings));
        var handler = app.Services.GetRequiredService<ProxyRequestHandler>();
        app.Run(handler.HandleAsync);
        return app;
    }

    private const string Usage = """
        Proxy: an overload-aware HTTP reverse proxy.

          Proxy.Host --demo                      two embedded demo nodes (9001, 9002) behind the proxy;
                                                 --Demo:Ports:0=P --Demo:Ports:1=Q puts them on other ports
          Proxy.Host --Proxy:Nodes:0:Name=n1 --Proxy:Nodes:0:Address=http://10.0.0.5:8001 [--Key=value ...]
          Proxy.Host --healthcheck               exit 0 when the debug listener answers /healthz
          Proxy.Host --version                   print the product name and version
          Proxy.Host --demo-node --Demo:Name=demo-1 --Demo:Listen=http://127.0.0.1:9001

        Every setting is a key of the Proxy section (README "Configuration"), given as --Proxy:Key=value,
        as an environment variable (Proxy__Key) or in appsettings.json. Durations: 500ms, 30s, 5m, 1h or
        hh:mm:ss. Client listener: Proxy:Listen (default http://0.0.0.0:8000); debug listener and
        dashboard: Proxy:Debug:Listen (default http://127.0.0.1:8081/debug).
        Exit codes: 0 stopped, 1 a stop cut short 10 s after Proxy:Shutdown:Drain (a console write stuck), 2 cannot start
        (invalid configuration, a port in use: one line naming the key).

        """;

    /// <summary>The product name and version, as <c>--version</c> prints them (the informational version: the build's version and commit).</summary>
    public static string ProductVersion
    {
        get
        {
            var assembly = typeof(ProxyApp).Assembly;
            var product = assembly.GetCustomAttribute<AssemblyProductAttribute>()?.Product ?? assembly.GetName().Name;
            return $"{product} {Version}";
        }
    }

    /// <summary>The build's version and commit (the informational version), e.g. <c>0.10.0+3118a82…</c>.</summary>
    public static string Version
    {
        get
        {
            var assembly = typeof(ProxyApp).Assembly;
            return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? assembly.GetName().Version?.ToString() ?? "unknown";
        }
    }

    // One line of Serilog's own complaint, without its timestamp and the list of every sink method it knows.
    private static void SerilogComplaint(string message)
    {
        const string Candidates = " Candidate methods are:";
        var line = message.AsSpan();
        line = line[..(line.IndexOfAny('\r', '\n') is var end and >= 0 ? end : line.Length)];
        line = line[(line.IndexOf(' ') + 1)..];
        var text = line.EndsWith(Candidates, StringComparison.Ordinal)
            ? $"{line[..^Candidates.Length]} (a sink the proxy does not ship needs Serilog:Using and its DLL beside the proxy's)"
            : line.ToString();
        Console.Error.WriteLine("Serilog: " + text);
    }

    // Above Fatal: Serilog has no "Off" level, and no event is ever this severe.
    private const Serilog.Events.LogEventLevel LevelOff = Serilog.Events.LogEventLevel.Fatal + 1;

    // "--config PATH" or "--config=PATH": the watched JSON file (ADR 0015), not a configuration key.
    internal static (string[] Others, string? ConfigFile) TakeConfigFile(string[] args)
    {
        var rest = new List<string>(args.Length);
        string? file = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config")
            {
                file = i + 1 < args.Length ? args[++i] : throw new ProxyConfigurationException("--config", "needs a path: --config /etc/proxy/proxy.json");
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                file = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return (rest.ToArray(), file);
    }

    private static string[] MapDemoSwitch(string[] args) =>
        args.Select(a => a == "--demo" ? "--Proxy:Demo=true" : a).ToArray();

    private static bool IsDebugListener(HttpContext context) => context.Features.Get<DebugListenerFeature>() is not null;

    private static ListenerCertificate? OpenListenerCertificate(ProxySettings settings)
    {
        if (settings.ListenerTls is not { } tls)
        {
            return null;
        }

        try
        {
            return new ListenerCertificate(WatchedCertificate.Open(tls.CertificateFile, tls.KeyFile, ListenerCertificateWatcher.Interval));
        }
        catch (PemFileException ex)
        {
            throw new ProxyConfigurationException(ex.AboutKey && tls.KeyFile is not null ? "Proxy:Tls:KeyFile" : "Proxy:Tls:CertificateFile", ex.Message);
        }
    }

    // Akka's scheduler wakes every tick, 10 ms by default: idle, those wake-ups cost 5 % of a
    // core and 13,000 context switches a second (YARP idle: none). The proxy's own timers count in
    // seconds, so 100 ms; a tenth of the shortest interval an operator set, when that is finer.
    private static string SchedulerTick(ProxySettings settings)
    {
        var shortest = settings.RestoreInterval < settings.Health.CircuitBreakDuration ? settings.RestoreInterval : settings.Health.CircuitBreakDuration;
        var tick = Math.Clamp(shortest.TotalMilliseconds / 10, 10, 100);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"akka.scheduler.tick-duration = {tick:0}ms");
    }

    private static void Listen(KestrelServerOptions kestrel, Microsoft.AspNetCore.Http.BindingAddress address, bool debug, ConnectionCap? cap, ListenerCertificate? certificate)
    {
        void Configure(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http1;

            // Counted before the handshake: a flood of handshakes is held to the cap too.
            if (cap is not null)
            {
                listen.Use(cap.Middleware);
            }

            if (string.Equals(address.Scheme, "https", StringComparison.OrdinalIgnoreCase))
            {
                listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = certificate!.OptionsAsync });
            }

            if (debug)
            {
                // Marks the connection, so routing never depends on which port was bound.
                listen.Use(next => connection =>
                {
                    connection.Features.Set(DebugListenerFeature.Instance);
                    return next(connection);
                });
            }
        }

        var host = address.Host;
        if (host is "*" or "+")
        {
            kestrel.ListenAnyIP(address.Port, Configure);
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(address.Port, Configure);
        }
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var ip))
        {
            // An IPv4-mapped IPv6 address cannot be bound (EINVAL): it means its IPv4 address.
            kestrel.Listen(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip, address.Port, Configure);
        }
        else
        {
            throw new ProxyConfigurationException(debug ? "Proxy:Debug:Listen" : "Proxy:Listen", $"'{address}' names a host; use an IP address, localhost or *");
        }
    }

    private sealed class DebugListenerFeature
    {
        public static DebugListenerFeature Instance { get; } = new();
    }
}

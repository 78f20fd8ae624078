using Proxy.Host.Configuration;

namespace Proxy.Host.Hosting;

/// <summary>
/// <c>Proxy.Host --healthcheck</c>: asks the running proxy's debug listener for /healthz and exits
/// 0 or 1, so a container health check needs no curl in the image.
/// </summary>
internal static class HealthCheck
{
    public static async Task<int> RunAsync(string[] args)
    {
        // The sources the proxy reads, in its order: a --config file is layered over all the others.
        string[] others;
        string? configFile;
        try
        {
            (others, configFile) = ProxyApp.TakeConfigFile(args);
        }
        catch (ProxyConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"unhealthy: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        var builder = new ConfigurationBuilder()
            // The proxy's content root is its working directory: read the same appsettings.json.
            .SetBasePath(Directory.GetCurrentDirectory())
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(others);
        if (configFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(configFile), optional: true);
        }

        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            await Console.Error.WriteLineAsync($"unhealthy: --config '{configFile}' cannot be read: {ConfigurationReloader.Describe(ex)}").ConfigureAwait(false);
            return 1;
        }

        var listen = Microsoft.AspNetCore.Http.BindingAddress.Parse(configuration["Proxy:Debug:Listen"] ?? new DebugOptions().Listen);
        var host = listen.Host is "*" or "+" or "0.0.0.0" ? "127.0.0.1" : listen.Host is "::" or "[::]" ? "[::1]" : listen.Host;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        if (configuration["Proxy:Debug:Token"] is { Length: > 0 } token)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            using var response = await http.GetAsync(new Uri($"http://{host}:{listen.Port}/healthz")).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await Console.Error.WriteLineAsync($"unhealthy: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }
}

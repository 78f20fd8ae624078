using System.Diagnostics;
using System.Reflection;
using Xunit;

namespace Proxy.Host.Tests;

/// <summary>
/// Proxy.Actors and Proxy.Host packed from this build into a folder feed, once per test run, and
/// projects built against it the way an extension author's would be: offline, restoring from that
/// feed and from the packages this machine already holds.
/// </summary>
internal static class Packages
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _feed;

    /// <summary>The packages' version: the product's (Directory.Build.props).</summary>
    public static string Version { get; } = typeof(ProxyApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!
        .InformationalVersion.Split('+')[0];

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The folder feed, packed on first use (from the Release build the tests run on).</summary>
    public static async Task<string> FeedAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_feed is null)
            {
                var feed = Directory.CreateTempSubdirectory("proxy-feed-").FullName;
                foreach (var project in new[] { "src/Proxy.Actors", "src/Proxy.Host" })
                {
                    await DotnetAsync(RepositoryRoot, null, "pack", Path.Combine(RepositoryRoot, project), "-c", "Release", "--no-build", "-o", feed, "-nologo");
                }

                _feed = feed;
            }

            return _feed;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Builds the project in <paramref name="directory"/> against the feed; answers its output folder.</summary>
    public static async Task<string> BuildAsync(string directory)
    {
        var feed = await FeedAsync();
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        // The Proxy packages from this build's feed only (the machine's folder may hold an older
        // pack of the same version), everything else from what this machine has restored; restored
        // into a folder of the test's own, so a stale copy in the machine's cache is never used.
        var config = Path.Combine(directory, "nuget.config");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="proxy-feed" value="{feed}" />
                <add key="this-machine" value="{globalPackages}" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="proxy-feed"><package pattern="Proxy.*" /></packageSource>
                <packageSource key="this-machine"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        var output = Path.Combine(directory, "out");
        await DotnetAsync(
            directory,
            new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(directory, "packages") },
            "build", directory, "-c", "Release", "-o", output, "-nologo", "-v", "q", $"-p:ProxyVersion={Version}");
        return output;
    }

    private static async Task DotnetAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed:\n{await stdout}\n{await stderr}");
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Proxy.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("the repository (Proxy.sln) is not above the test binaries");
    }
}

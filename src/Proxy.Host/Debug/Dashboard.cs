namespace Proxy.Host.Debug;

/// <summary>The self-contained live dashboard served at <c>/debug</c> (no CDN: it works offline).</summary>
internal static class Dashboard
{
    public static string Html { get; } = Load();

    private static string Load()
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("Proxy.Host.Debug.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard resource is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

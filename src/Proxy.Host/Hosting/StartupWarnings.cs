namespace Proxy.Host.Hosting;

/// <summary>Logs, once at start-up, what the configuration allows but an operator should know.</summary>
internal static partial class StartupWarnings
{
    public static void Log(ILogger logger, IReadOnlyList<string> warnings)
    {
        foreach (var warning in warnings)
        {
            LogWarning(logger, warning);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "configuration: {Warning}")]
    private static partial void LogWarning(ILogger logger, string warning);
}

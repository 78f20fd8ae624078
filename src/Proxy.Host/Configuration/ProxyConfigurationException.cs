namespace Proxy.Host.Configuration;

/// <summary>An invalid setting; its message is the one line start-up prints before exiting.</summary>
public sealed class ProxyConfigurationException(string key, string problem)
    : Exception($"invalid configuration: {key}: {problem}")
{
    public string Key { get; } = key;
}

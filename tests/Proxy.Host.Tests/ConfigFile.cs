using Proxy.Testing;

namespace Proxy.Host.Tests;

/// <summary>A <c>--config</c> file in the temp folder, rewritten the way editors and config tools do: a whole new file moved into place.</summary>
public sealed class ConfigFile : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"proxy-{Guid.NewGuid():N}.json");

    /// <summary>The Proxy section holding these nodes (restore tick <paramref name="restoreInterval"/>, or the default) and, if given, more JSON members of it.</summary>
    public static string Nodes(IEnumerable<(string Name, TestNode Node, int Weight)> nodes, string? more = null, string? restoreInterval = "100ms") =>
        "{\"Proxy\":{" + (restoreInterval is null ? "" : $"\"Overload\":{{\"RestoreInterval\":\"{restoreInterval}\"}},") + "\"Nodes\":["
        + string.Join(",", nodes.Select(n => $"{{\"Name\":\"{n.Name}\",\"Address\":\"{n.Node.Address}\",\"Weight\":{n.Weight}}}"))
        + "]" + (more is null ? "" : "," + more) + "}}";

    public void Write(string json)
    {
        var next = Path + ".next";
        File.WriteAllText(next, json);
        File.Move(next, Path, overwrite: true);
    }

    public void WriteNodes(params (string Name, TestNode Node, int Weight)[] nodes) => Write(Nodes(nodes));

    public void Dispose() => File.Delete(Path);
}

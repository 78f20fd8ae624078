using Akka.Actor;
using Proxy.Actors.Nodes;

namespace Proxy.Host.Debug;

/// <summary>The debug/admin listener's endpoints (never reachable through the client listener).</summary>
public static class DebugEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));

        endpoints.MapGet("/readyz", async (NodeStatusReader nodes, CancellationToken cancellationToken) =>
        {
            try
            {
                var reports = await nodes.ReadAsync(cancellationToken);
                return Results.Text($"ready: {reports.Count} nodes\n");
            }
            catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
            {
                return Results.Text("not ready\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

        endpoints.MapGet("/debug/nodes", async (NodeStatusReader nodes, CancellationToken cancellationToken) =>
        {
            var reports = await nodes.ReadAsync(cancellationToken);
            return Results.Json(new NodesDocument(reports.Select(NodeDocument.From).ToArray()));
        });

        endpoints.MapGet("/debug/cluster", (ActorSystem system) =>
        {
            var self = system is ExtendedActorSystem extended ? extended.Provider.DefaultAddress.ToString() : system.Name;
            return Results.Json(new ClusterDocument(self, [new ClusterMember(self, "up", [])]));
        });
    }

    public sealed record NodesDocument(IReadOnlyList<NodeDocument> Nodes);

    public sealed record NodeDocument(
        string Name, string Address, string State, int Weight, int ConfiguredWeight, int InFlight, long Requests, long Overloads, long Failures)
    {
        public static NodeDocument From(NodeStateReport r) => new(
            r.Name, r.Address, NodeStatusReader.StateName(r.State), r.Weight, r.ConfiguredWeight, r.InFlight, r.Requests, r.Overloads, r.Failures);
    }

    public sealed record ClusterDocument(string Self, IReadOnlyList<ClusterMember> Members);

    public sealed record ClusterMember(string Address, string Status, IReadOnlyList<string> Roles);
}

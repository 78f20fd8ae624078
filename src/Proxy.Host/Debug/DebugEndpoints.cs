using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Proxy.Actors.Nodes;
using Proxy.Host.Clustering;
using Proxy.Host.Configuration;
using Proxy.Host.Telemetry;

namespace Proxy.Host.Debug;

/// <summary>The debug/admin listener's endpoints (never reachable through the client listener).</summary>
public static class DebugEndpoints
{
    public static void Map(IApplicationBuilder debug, ProxySettings settings)
    {
        debug.Use(RefuseForeignRequests(requireLoopbackHost: settings.DebugToken is null));
        if (settings.DebugToken is { } token)
        {
            debug.Use(RequireToken(token));
        }

        debug.UseRouting();
        debug.UseEndpoints(MapEndpoints);
    }

    private static readonly System.Text.Json.JsonSerializerOptions NodeJson = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict,
    };

    // What is wrong with a request body, in the body's terms rather than .NET's type names.
    private static string JsonProblem(Exception ex)
    {
        if (ex is System.Text.Json.JsonException { Path: { } path } json)
        {
            var field = path.Replace("$.", "", StringComparison.Ordinal);
            return json.Message.Contains("could not be mapped", StringComparison.Ordinal) ? $"{field} is not a field"
                : json.Message.Contains("could not be converted", StringComparison.Ordinal) ? $"{field} has a value of the wrong type"
                : $"not valid JSON at {field}";
        }

        return ex.Message;
    }

    private static void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));

        endpoints.MapGet("/readyz", async (NodeStatusReader nodes, IServiceProvider services, CancellationToken cancellationToken) =>
        {
            if (services.GetService<ClusterMembership>() is { Settled: false })
            {
                return Results.Text("not ready: joining the cluster and learning its marks\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            try
            {
                var reports = await nodes.ReadAsync(cancellationToken);
                if (reports.Count == 0)
                {
                    // Every node removed at run time (or none found by DNS yet): clients would get 502s.
                    return Results.Text("not ready: no nodes\n", statusCode: StatusCodes.Status503ServiceUnavailable);
                }

                return Results.Text($"ready: {reports.Count} nodes\n");
            }
            catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
            {
                return Results.Text("not ready\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

        endpoints.MapGet("/debug/nodes", async (NodeStatusReader nodes, ConfigurationReloader reloader, CancellationToken cancellationToken) =>
        {
            var reports = await nodes.ReadAsync(cancellationToken);
            return Results.Json(new NodesDocument(reports.Select(NodeDocument.From).ToArray(), reloader.Last));
        });

        // Live topology (ADR 0015): add a node (it starts cold), remove one gracefully.
        endpoints.MapPost("/debug/nodes", async (HttpContext context, NodeStatusReader nodes, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        {
            NodeOptions? request;
            try
            {
                request = await context.Request.ReadFromJsonAsync<NodeOptions>(NodeJson, cancellationToken);
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException)
            {
                return Results.Json(new ErrorDocument($"the body must be a JSON object {{\"name\",\"address\",\"weight\",\"reuseConnections\",\"tls\"}}: {JsonProblem(ex)}"), statusCode: StatusCodes.Status400BadRequest);
            }

            if (request is { Resolve: true })
            {
                return Results.Json(new ErrorDocument("resolve is set in the configuration (Proxy:Nodes:N:Resolve), not through the admin API: add the nodes by address"), statusCode: StatusCodes.Status400BadRequest);
            }

            NodeSettings node;
            var warnings = new List<string>();
            try
            {
                node = ProxySettingsFactory.ValidateNode(request ?? new NodeOptions(), "node", warnings);
            }
            catch (ProxyConfigurationException ex)
            {
                return Results.Json(new ErrorDocument(ex.Message), statusCode: StatusCodes.Status400BadRequest);
            }

            Hosting.StartupWarnings.Log(loggers.CreateLogger("Proxy.Host.Debug.AdminApi"), warnings);
            return await nodes.ChangeAsync(new NodeSupervisor.AddNode(node, NodeChangeSource.Operator), cancellationToken) switch
            {
                NodeSupervisor.NodeAdded added => await AddedAsync(nodes, added, cancellationToken),
                NodeSupervisor.NodeChangeRefused { Reason: NodeChangeRefusal.Exists } refused => Results.Json(new ErrorDocument(refused.Message), statusCode: StatusCodes.Status409Conflict),
                NodeSupervisor.NodeChangeRefused refused => Results.Json(new ErrorDocument(refused.Message), statusCode: StatusCodes.Status400BadRequest),
                var other => Results.Json(new ErrorDocument($"unexpected answer {other}"), statusCode: StatusCodes.Status500InternalServerError),
            };
        });
        endpoints.MapDelete("/debug/nodes/{name}", async (string name, NodeStatusReader nodes, CancellationToken cancellationToken) =>
            await nodes.ChangeAsync(new NodeSupervisor.RemoveNode(name, NodeChangeSource.Operator), cancellationToken) switch
            {
                NodeSupervisor.NodeRemoved removed => Results.Json(new RemovedDocument(removed.Name, "removed: no new tries; it stops once its tries in flight end")),
                NodeSupervisor.NodeChangeRefused refused => Results.Json(new ErrorDocument(refused.Message), statusCode: StatusCodes.Status404NotFound),
                var other => Results.Json(new ErrorDocument($"unexpected answer {other}"), statusCode: StatusCodes.Status500InternalServerError),
            });

        endpoints.MapPost("/debug/nodes/{name}/drain", (string name, NodeStatusReader nodes, CancellationToken cancellationToken) =>
            AdministerAsync(nodes, name, NodeActor.Drain.Instance, cancellationToken));
        endpoints.MapPost("/debug/nodes/{name}/enable", (string name, NodeStatusReader nodes, CancellationToken cancellationToken) =>
            AdministerAsync(nodes, name, NodeActor.Enable.Instance, cancellationToken));
        endpoints.MapPost("/debug/nodes/{name}/weight", (string name, string? value, NodeStatusReader nodes, CancellationToken cancellationToken) =>
            int.TryParse(value, out var weight) && weight is >= ProxySettingsFactory.MinWeight and <= ProxySettingsFactory.MaxWeight
                ? AdministerAsync(nodes, name, new NodeActor.SetWeight(weight), cancellationToken)
                : Task.FromResult(Results.Json(
                    new ErrorDocument($"value must be a whole number from {ProxySettingsFactory.MinWeight} to {ProxySettingsFactory.MaxWeight} (was '{value}')"),
                    statusCode: StatusCodes.Status400BadRequest)));

        endpoints.MapGet("/debug/redispatches", (RecentRedispatches recent) =>
            Results.Json(new { redispatches = recent.Read().Select(r => new
            {
                at = r.At,
                method = r.Method,
                target = r.Target,
                status = r.Status,
                traceId = r.TraceId,
                tries = r.Tries.Select(t => new { node = t.Node, result = t.Result }),
            }) }));

        endpoints.MapGet("/debug/actors", async (ActorTreeReader tree, CancellationToken cancellationToken) =>
            Results.Json(new ActorsDocument(await tree.ReadAsync(cancellationToken))));

        endpoints.MapGet("/debug/cluster", (ActorSystem system, ProxySettings settings, IServiceProvider services) =>
        {
            if (settings.Cluster is null)
            {
                var self = system is ExtendedActorSystem extended ? extended.Provider.DefaultAddress.ToString() : system.Name;
                return Results.Json(new ClusterDocument(self, false, "alone", 0, null, [new ClusterMember(self, "up", [], true)], []));
            }

            var view = services.GetRequiredService<ClusterMembership>().Describe();
            return Results.Json(new ClusterDocument(
                view.Self,
                true,
                view.Status,
                view.Incarnation,
                view.Leader,
                view.Members.Select(m => new ClusterMember(m.Address, m.Status, m.Roles, m.Reachable)).ToArray(),
                view.Expected));
        });

        endpoints.MapGet("/metrics", async (HttpContext context, PrometheusProxyMetrics metrics) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.WriteAsync(context.Response.Body, context.RequestAborted);
        });

        endpoints.MapGet("/debug", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8"));
    }

    // The node's state when it can be read at once; a node removed again meanwhile (a racing
    // DELETE) is still a 201, with its name only.
    private static async Task<IResult> AddedAsync(NodeStatusReader nodes, NodeSupervisor.NodeAdded added, CancellationToken cancellationToken)
    {
        try
        {
            if (await nodes.AdministerAsync(added.Name, NodeActor.GetNodeState.Instance, cancellationToken) is { } report)
            {
                return Results.Json(NodeDocument.From(report), statusCode: StatusCodes.Status201Created);
            }
        }
        catch (AskTimeoutException)
        {
        }

        return Results.Json(new { name = added.Name }, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> AdministerAsync(NodeStatusReader nodes, string name, object action, CancellationToken cancellationToken)
    {
        var report = await nodes.AdministerAsync(name, action, cancellationToken);
        return report is null
            ? Results.Json(new ErrorDocument($"unknown node '{name}'"), statusCode: StatusCodes.Status404NotFound)
            : Results.Json(NodeDocument.From(report));
    }

    // A web page in the operator's browser can send requests to the debug listener (a form, or
    // fetch with mode "no-cors"), and a DNS-rebinding page can even read the answers. So: a
    // state-changing request that another origin sent (an Origin other than the listener's own, or
    // Sec-Fetch-Site: cross-site) changes nothing; and a listener without a token answers only
    // requests addressed to a loopback name. curl and scripts send neither header and are unaffected.
    private static Func<RequestDelegate, RequestDelegate> RefuseForeignRequests(bool requireLoopbackHost) => next => context =>
    {
        var request = context.Request;
        if (requireLoopbackHost && !IsLoopbackName(request.Host.Host))
        {
            return Forbid(context, $"this listener answers only requests to a loopback name (Host was '{request.Host}'); set Proxy:Debug:Token to serve others");
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method))
        {
            var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
            var origin = request.Headers.Origin.ToString();
            if (fetchSite.Equals("cross-site", StringComparison.OrdinalIgnoreCase)
                || (origin.Length > 0 && !origin.Equals($"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase)))
            {
                return Forbid(context, "a state-changing request from another web origin is refused");
            }
        }

        return next(context);
    };

    private static bool IsLoopbackName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip));

    private static Task Forbid(HttpContext context, string reason)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync($"403 Forbidden: {reason}\n");
    }

    // Every debug request carries the token as "Authorization: Bearer <token>"; a browser opening
    // the dashboard may pass "?access_token=<token>" instead, for reading only (a token in a URL
    // ends up in histories and logs, so it never authorises a change).
    private static Func<RequestDelegate, RequestDelegate> RequireToken(string token)
    {
        var expected = Encoding.UTF8.GetBytes(token);
        return next => context =>
        {
            var header = context.Request.Headers.Authorization.ToString();
            var reading = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method);
            var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                ? header["Bearer ".Length..].Trim()
                : reading ? context.Request.Query["access_token"].ToString() : "";
            if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), expected))
            {
                return next(context);
            }

            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return context.Response.WriteAsync("401 Unauthorized: a valid bearer token (Proxy:Debug:Token) is required\n");
        };
    }

    /// <summary><c>reload</c>: the last configuration reload's outcome (null until one happens).</summary>
    public sealed record NodesDocument(IReadOnlyList<NodeDocument> Nodes, ReloadResult? Reload);

    /// <summary>
    /// SPEC's fields, plus <c>observedBy</c>: which cluster member's observation set the state ("local"
    /// for this one), and <c>lastFailure</c>: the node's latest failed try (kind, reason, at), null before one.
    /// </summary>
    public sealed record NodeDocument(
        string Name, string Address, string State, int Weight, int ConfiguredWeight, int InFlight, long Requests, long Overloads, long Failures, string ObservedBy, NodeFailure? LastFailure)
    {
        public static NodeDocument From(NodeStateReport r) => new(
            r.Name, r.Address, NodeStatusReader.StateName(r.State), r.Weight, r.ConfiguredWeight, r.InFlight, r.Requests, r.Overloads, r.Failures, r.ObservedBy, r.LastFailure);
    }

    public sealed record ActorsDocument(IReadOnlyList<ActorTreeReader.ActorNode> Actors);

    public sealed record ErrorDocument(string Error);

    /// <summary>
    /// <c>status</c>: <c>up</c>; <c>joining</c> (looking for the fleet); <c>alone</c> (up, but none of
    /// the <c>expected</c> contact points is a member); <c>partitioned</c> (some member unreachable);
    /// <c>rejoining</c> (between membership incarnations, ADR 0014).
    /// </summary>
    public sealed record ClusterDocument(string Self, bool Clustered, string Status, int Incarnation, string? Leader, IReadOnlyList<ClusterMember> Members, IReadOnlyList<string> Expected);

    public sealed record RemovedDocument(string Removed, string State);

    public sealed record ClusterMember(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable);
}

using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Proxy.Actors.Nodes;
using Proxy.Host.Clustering;
using Proxy.Actors.Forwarding;
using Proxy.Host.Configuration;
using Proxy.Host.Forwarding;
using Proxy.Host.Telemetry;

namespace Proxy.Host.Debug;

/// <summary>The debug/admin listener's endpoints (never reachable through the client listener).</summary>
public static class DebugEndpoints
{
    /// <summary>The largest body the debug listener reads: a node to add is a few hundred bytes.</summary>
    public const long MaxBodyBytes = 64 * 1024;

    public static void Map(IApplicationBuilder debug, ProxySettings settings)
    {
        // Not Proxy:Limits:MaxRequestBody (clients' bodies, unlimited if so set): an admin body
        // of 100 MB is a mistake or an attack, and its text would come back in the 400.
        debug.Use(static (context, next) =>
        {
            // Refused whole when it says so up front, whichever endpoint it is for; a chunked body
            // is cut off where it passes the cap, by the one endpoint that reads a body.
            if (context.Request.ContentLength > MaxBodyBytes)
            {
                return BodyTooLarge(context);
            }

            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxBodyBytes;
            }

            return next(context);
        });
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

    // Plain request delegates, not minimal-API handlers: for those ASP.NET Core compiles an
    // expression tree per endpoint at the first request, which kept ~3 MB resident (its compiler's
    // code, Microsoft.AspNetCore.Http.Results and the emitted methods) for a listener that answers
    // a health check now and then (ADR 0007).
    private static void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", context => Text(context, "ok\n"));
        endpoints.MapGet("/readyz", ReadyAsync);

        endpoints.MapGet("/debug/nodes", async context =>
        {
            var reports = await Service<NodeStatusReader>(context).ReadAsync(context.RequestAborted);
            await Json(context, new NodesDocument(reports.Select(NodeDocument.From).ToArray(), Service<ConfigurationReloader>(context).Last));
        });

        // Live topology (ADR 0015): add a node (it starts cold), remove one gracefully.
        endpoints.MapPost("/debug/nodes", AddNodeAsync);
        endpoints.MapDelete("/debug/nodes/{name}", async context =>
        {
            var name = RouteName(context);
            await (await Service<NodeStatusReader>(context).ChangeAsync(new NodeSupervisor.RemoveNode(name, NodeChangeSource.Operator), context.RequestAborted) switch
            {
                NodeSupervisor.NodeRemoved removed => Json(context, new RemovedDocument(removed.Name, "removed: no new tries; it stops once its tries in flight end")),
                NodeSupervisor.NodeChangeRefused refused => Error(context, refused.Message, StatusCodes.Status404NotFound),
                var other => Unexpected(context, other),
            });
        });

        endpoints.MapPost("/debug/nodes/{name}/drain", context => AdministerAsync(context, NodeActor.Drain.Instance));
        endpoints.MapPost("/debug/nodes/{name}/enable", context => AdministerAsync(context, NodeActor.Enable.Instance));
        endpoints.MapPost("/debug/nodes/{name}/weight", context =>
        {
            // As the minimal-API binder read it: every value of the query key, comma-joined.
            var value = context.Request.Query["value"].ToString();
            return int.TryParse(value, out var weight) && weight is >= ProxySettingsFactory.MinWeight and <= ProxySettingsFactory.MaxWeight
                ? AdministerAsync(context, new NodeActor.SetWeight(weight))
                : Error(
                    context,
                    $"value must be a whole number from {ProxySettingsFactory.MinWeight} to {ProxySettingsFactory.MaxWeight} (was '{value}')",
                    StatusCodes.Status400BadRequest);
        });

        endpoints.MapGet("/debug/redispatches", context =>
            Json(context, new { redispatches = Service<RecentRedispatches>(context).Read().Select(r => new
            {
                at = r.At,
                method = r.Method,
                target = r.Target,
                status = r.Status,
                traceId = r.TraceId,
                tries = r.Tries.Select(t => new { node = t.Node, result = t.Result }),
            }) }));

        endpoints.MapGet("/debug/actors", async context =>
            await Json(context, new ActorsDocument(await Service<ActorTreeReader>(context).ReadAsync(context.RequestAborted))));

        endpoints.MapGet("/debug/cluster", context =>
        {
            if (Service<ProxySettings>(context).Cluster is null)
            {
                var system = Service<ActorSystem>(context);
                var self = system is ExtendedActorSystem extended ? extended.Provider.DefaultAddress.ToString() : system.Name;
                return Json(context, new ClusterDocument(self, false, "alone", 0, null, [new ClusterMember(self, "up", [], true)], []));
            }

            var view = Service<ClusterMembership>(context).Describe();
            return Json(context, new ClusterDocument(
                view.Self,
                true,
                view.Status,
                view.Incarnation,
                view.Leader,
                view.Members.Select(m => new ClusterMember(m.Address, m.Status, m.Roles, m.Reachable)).ToArray(),
                view.Expected));
        });

        endpoints.MapGet("/metrics", context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            return Service<PrometheusProxyMetrics>(context).WriteAsync(context.Response.Body, context.RequestAborted);
        });

        endpoints.MapGet("/debug", context => Write(context, StatusCodes.Status200OK, "text/html; charset=utf-8", Dashboard.Html));
    }

    private static async Task ReadyAsync(HttpContext context)
    {
        if (context.RequestServices.GetService<ClusterMembership>() is { Settled: false })
        {
            await Text(context, "not ready: joining the cluster and learning its marks\n", StatusCodes.Status503ServiceUnavailable);
            return;
        }

        IReadOnlyList<NodeStateReport> reports;
        try
        {
            reports = await Service<NodeStatusReader>(context).ReadAsync(context.RequestAborted);
        }
        catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
        {
            await Text(context, "not ready\n", StatusCodes.Status503ServiceUnavailable);
            return;
        }

        // No node (every one removed at run time, or none found by DNS yet): clients would get 502s.
        await (reports.Count == 0
            ? Text(context, "not ready: no nodes\n", StatusCodes.Status503ServiceUnavailable)
            : Text(context, $"ready: {reports.Count} nodes\n"));
    }

    private static async Task AddNodeAsync(HttpContext context)
    {
        NodeOptions? request;
        try
        {
            request = await context.Request.ReadFromJsonAsync<NodeOptions>(NodeJson, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await BodyTooLarge(context);
            return;
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            await Error(context, "the body arrived too slowly", StatusCodes.Status408RequestTimeout);
            return;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException)
        {
            await Error(context, $"the body must be a JSON object {{\"name\",\"address\",\"weight\",\"reuseConnections\",\"tls\"}}: {JsonProblem(ex)}", StatusCodes.Status400BadRequest);
            return;
        }

        if (request is { Resolve: true })
        {
            await Error(context, "resolve is set in the configuration (Proxy:Nodes:N:Resolve), not through the admin API: add the nodes by address", StatusCodes.Status400BadRequest);
            return;
        }

        NodeSettings node;
        var warnings = new List<string>();
        try
        {
            node = ProxySettingsFactory.ValidateNode(request ?? new NodeOptions(), "node", warnings, Service<ProxySettings>(context).Listen);
        }
        catch (ProxyConfigurationException ex)
        {
            await Error(context, ex.Message, StatusCodes.Status400BadRequest);
            return;
        }

        Hosting.StartupWarnings.Log(Service<ILoggerFactory>(context).CreateLogger("Proxy.Host.Debug.AdminApi"), warnings);
        var nodes = Service<NodeStatusReader>(context);
        await (await nodes.ChangeAsync(new NodeSupervisor.AddNode(node, NodeChangeSource.Operator), context.RequestAborted) switch
        {
            NodeSupervisor.NodeAdded added => AddedAsync(context, nodes, added),
            NodeSupervisor.NodeChangeRefused { Reason: NodeChangeRefusal.Exists } refused => Error(context, refused.Message, StatusCodes.Status409Conflict),
            NodeSupervisor.NodeChangeRefused refused => Error(context, refused.Message, StatusCodes.Status400BadRequest),
            var other => Unexpected(context, other),
        });
    }

    // The node's state when it can be read at once; a node removed again meanwhile (a racing
    // DELETE) is still a 201, with its name only.
    private static async Task AddedAsync(HttpContext context, NodeStatusReader nodes, NodeSupervisor.NodeAdded added)
    {
        try
        {
            if (await nodes.AdministerAsync(added.Name, NodeActor.GetNodeState.Instance, context.RequestAborted) is { } report)
            {
                await Json(context, NodeDocument.From(report), StatusCodes.Status201Created);
                return;
            }
        }
        catch (AskTimeoutException)
        {
        }

        await Json(context, new { name = added.Name }, StatusCodes.Status201Created);
    }

    private static async Task AdministerAsync(HttpContext context, object action)
    {
        var name = RouteName(context);
        var report = await Service<NodeStatusReader>(context).AdministerAsync(name, action, context.RequestAborted);
        await (report is null
            ? Error(context, $"unknown node '{name}'", StatusCodes.Status404NotFound)
            : Json(context, NodeDocument.From(report)));
    }

    private static string RouteName(HttpContext context) => (string)context.Request.RouteValues["name"]!;

    private static T Service<T>(HttpContext context)
        where T : notnull => context.RequestServices.GetRequiredService<T>();

    private static Task Text(HttpContext context, string text, int status = StatusCodes.Status200OK) =>
        Write(context, status, "text/plain; charset=utf-8", text);

    // With its length, as Results.Text wrote it: no chunked framing for a few bytes.
    private static Task Write(HttpContext context, int status, string contentType, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = bytes.Length;
        return context.Response.Body.WriteAsync(bytes, context.RequestAborted).AsTask();
    }

    private static Task BodyTooLarge(HttpContext context) =>
        Error(context, $"the body is larger than {MaxBodyBytes / 1024} KiB: a debug request's body is a small JSON object, if any", StatusCodes.Status413PayloadTooLarge);

    private static Task Error(HttpContext context, string message, int status) => Json(context, new ErrorDocument(message), status);

    private static Task Unexpected(HttpContext context, object answer) =>
        Error(context, $"unexpected answer {answer}", StatusCodes.Status500InternalServerError);

    // application/json; charset=utf-8, with the host's JSON options (camelCase), as Results.Json wrote it.
    private static Task Json<T>(HttpContext context, T value, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(value, context.RequestAborted);
    }

    // A web page in the operator's browser can send requests to the debug listener (a form, or
    // fetch with mode "no-cors"), and a DNS-rebinding page can even read the answers. So: a
    // state-changing request that another origin sent (an Origin other than the listener's own, or
    // Sec-Fetch-Site: cross-site) changes nothing; and a listener without a token answers only
    // requests addressed to a loopback name. curl and scripts send neither header and are unaffected.
    private static Func<RequestDelegate, RequestDelegate> RefuseForeignRequests(bool requireLoopbackHost) => next => context =>
    {
        var request = context.Request;
        var host = ProxyRequestReader.HostAsSent(request);
        if (requireLoopbackHost && !IsLoopbackName(host.Host))
        {
            return Forbid(context, $"this listener answers only requests to a loopback name (Host was '{PrintableText.Of(host.Value ?? "")}'); set Proxy:Debug:Token to serve others");
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method))
        {
            var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
            var origin = request.Headers.Origin.ToString();
            if (fetchSite.Equals("cross-site", StringComparison.OrdinalIgnoreCase)
                || (origin.Length > 0 && !origin.Equals($"{request.Scheme}://{host.Value}", StringComparison.OrdinalIgnoreCase)))
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

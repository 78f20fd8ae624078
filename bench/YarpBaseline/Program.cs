using Yarp.ReverseProxy.Configuration;

// Plain YARP, round-robin over the same nodes as the proxy, for bench/run.sh:
//   dotnet YarpBaseline.dll --urls http://127.0.0.1:8100 --nodes http://127.0.0.1:18081,http://127.0.0.1:18082
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var nodes = (builder.Configuration["nodes"] ?? "http://127.0.0.1:18081,http://127.0.0.1:18082").Split(',');
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "nodes", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig
    {
        ClusterId = "nodes",
        LoadBalancingPolicy = "RoundRobin",
        Destinations = nodes.Select((address, i) => (address, i)).ToDictionary(n => $"node{n.i + 1}", n => new DestinationConfig { Address = n.address }),
    }]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();

using CustomClassifierHost;
using Proxy.Host;
using Proxy.Host.Classification;

// The stock proxy, every setting and endpoint of it, plus one classifier type of this host's own.
return await ProxyApp.RunAsync(args, builder =>
    builder.AddClassifier("MaintenancePage", MaintenancePageClassifier.Props));

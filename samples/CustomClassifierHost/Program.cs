using CustomClassifierHost;
using Proxy.Host;
using Proxy.Host.Classification;

// The stock proxy, every setting and endpoint of it, plus one classifier type of this host's own.
// First, the runtime settings .NET reads from the environment only (it may restart the process in place).
ProxyApp.ApplyRuntimeSettings(args);
return await ProxyApp.RunAsync(args, builder =>
    builder.AddClassifier("MaintenancePage", MaintenancePageClassifier.Props));

using Proxy.Host;

ProxyApp.ApplyGcSettings(args);
return await ProxyApp.RunAsync(args);

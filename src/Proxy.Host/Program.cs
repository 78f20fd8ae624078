using Proxy.Host;

ProxyApp.ApplyRuntimeSettings(args);
return await ProxyApp.RunAsync(args);

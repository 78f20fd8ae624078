using Proxy.Host;

return await ProxyApp.RunAsync(args);

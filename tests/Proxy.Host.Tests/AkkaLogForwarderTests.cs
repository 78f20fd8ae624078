using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting.Logging;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;
using Proxy.Host.Hosting;
using Proxy.Testing;
using Xunit;

namespace Proxy.Host.Tests;

public sealed class AkkaLogForwarderTests : IAsyncLifetime
{
    private readonly Lines _lines = new();
    private readonly ILoggerFactory _factory;
    private readonly ActorSystem _system;

    public AkkaLogForwarderTests()
    {
        _factory = LoggerFactory.Create(b => b.AddProvider(_lines));
        _system = ActorSystem.Create("forwarder", BootstrapSetup.Create()
            .WithConfig(ConfigurationFactory.ParseString($"akka.loggers = [\"{AkkaLogForwarder.LoggersEntry}\"]\nakka.stdout-loglevel = OFF"))
            .And(new LoggerFactorySetup(_factory)));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _system.Terminate();
        _factory.Dispose();
    }

    private sealed class Lines : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<(string Category, string Text, Exception? Exception)> Written { get; } = new();

        private string _category = "";

        public ILogger CreateLogger(string categoryName) => new Lines { _category = categoryName, Sink = this };

        private Lines? Sink { get; init; }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            (Sink ?? this).Written.Enqueue((_category, formatter(state, exception), exception));

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task A_remoting_line_names_the_peer_and_what_a_peer_sent_is_cut_short()
    {
        const string source = "akka.tcp://proxy@127.0.0.1:4053/system/endpointManager/endpointWriter-akka.tcp%3A%2F%2Fproxy%40203.0.113.9%3A4053-1";
        _system.EventStream.Publish(new Warning(source, typeof(Akka.Remote.RemoteActorRefProvider), "Deserialization failed for manifest [" + new string('x', 100_000) + "]"));

        await Eventually.AssertAsync(() =>
        {
            var line = Assert.Single(_lines.Written, l => l.Text.StartsWith("Deserialization failed", StringComparison.Ordinal));
            Assert.Equal("Akka.Remote.RemoteActorRefProvider", line.Category);
            Assert.True(line.Text.Length < 4300, $"a line of {line.Text.Length} characters");
            Assert.EndsWith("x… (95942 more characters) [at akka.tcp://proxy@127.0.0.1:4053/system/endpointManager/endpointWriter-akka.tcp://proxy@203.0.113.9:4053-1]", line.Text, StringComparison.Ordinal);
        });

        _system.EventStream.Publish(new Warning(source, typeof(Akka.Remote.RemoteActorRefProvider), "Association failed"));
        await Eventually.AssertAsync(() =>
            Assert.Contains(_lines.Written, l => l.Text == "Association failed [at akka.tcp://proxy@127.0.0.1:4053/system/endpointManager/endpointWriter-akka.tcp://proxy@203.0.113.9:4053-1]"));
    }

    [Fact]
    public async Task A_peer_cannot_forge_a_line_nor_flood_the_log_through_an_exception()
    {
        // A peer that advertises a host name with a line break in it, and a manifest of 100 KB.
        const string source = "akka.tcp://proxy@127.0.0.1:4053/system/endpointManager/endpointReader-akka.tcp%3A%2F%2Fproxy%40127.0.0.1%0A%5B09%3A00%3A00.000%20INF%5D%20Proxy.Forged%3A%20drained%3A4053-1";
        var cause = new InvalidOperationException("outer", new System.Runtime.Serialization.SerializationException("manifest '" + new string('Q', 100_000) + "' unknown"));
        _system.EventStream.Publish(new Warning(cause, source, typeof(Akka.Remote.RemoteActorRefProvider), "Deserialization failed for message\nfrom a peer"));

        await Eventually.AssertAsync(() =>
        {
            var line = Assert.Single(_lines.Written, l => l.Text.StartsWith("Deserialization failed", StringComparison.Ordinal));
            Assert.DoesNotContain('\n', line.Text);
            Assert.Contains("for message\\nfrom a peer (InvalidOperationException: manifest 'QQQ", line.Text, StringComparison.Ordinal);
            Assert.Contains("QQQ… (95923 more characters))", line.Text, StringComparison.Ordinal);
            Assert.EndsWith("127.0.0.1\\n[09:00:00.000 INF] Proxy.Forged: drained:4053-1]", line.Text, StringComparison.Ordinal);
            Assert.Null(line.Exception);
            Assert.True(line.Text.Length < 4400, $"a line of {line.Text.Length} characters");
        });
    }
}

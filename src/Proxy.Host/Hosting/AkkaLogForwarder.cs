using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;
using Akka.Hosting.Logging;

namespace Proxy.Host.Hosting;

/// <summary>
/// Akka's log events into Microsoft.Extensions.Logging (and so Serilog) under the class that logged
/// them: <c>Proxy.Actors.Nodes.NodeActor: Node n1 marked overloaded …</c>. Akka.Hosting's own
/// logger writes every event under <c>Akka.Actor.ActorSystem</c>, so an operator could not raise
/// or lower one component's level (<c>Serilog:MinimumLevel:Override:Proxy.Actors.Nodes</c>), nor
/// tell the proxy's lines from Akka's. Needs the system's <see cref="LoggerFactorySetup"/>.
/// </summary>
public sealed class AkkaLogForwarder : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>The HOCON <c>loggers</c> entry naming it, for an actor system not built through Akka.Hosting.</summary>
    public const string LoggersEntry = "Proxy.Host.Hosting.AkkaLogForwarder, Proxy.Host";

    private readonly ILoggerFactory _factory;
    private readonly Dictionary<Type, ILogger> _loggers = [];

    public AkkaLogForwarder()
    {
        var setup = Context.System.Settings.Setup.Get<LoggerFactorySetup>();
        _factory = setup.HasValue
            ? setup.Value.LoggerFactory
            : throw new InvalidOperationException($"{nameof(AkkaLogForwarder)} needs a {nameof(LoggerFactorySetup)} in the actor system's setup");
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent log:
                Forward(log);
                return true;
            default:
                return false;
        }
    }

    private const int MaxLineLength = 4096;

    private void Forward(LogEvent log)
    {
        var type = log.LogClass ?? typeof(ActorSystem);
        if (!_loggers.TryGetValue(type, out var logger))
        {
            logger = _factory.CreateLogger(type.FullName ?? type.Name);
            _loggers[type] = logger;
        }

        var level = log.LogLevel() switch
        {
            Akka.Event.LogLevel.DebugLevel => Microsoft.Extensions.Logging.LogLevel.Debug,
            Akka.Event.LogLevel.InfoLevel => Microsoft.Extensions.Logging.LogLevel.Information,
            Akka.Event.LogLevel.WarningLevel => Microsoft.Extensions.Logging.LogLevel.Warning,
            _ => Microsoft.Extensions.Logging.LogLevel.Error,
        };
        if (!logger.IsEnabled(level))
        {
            return;
        }

        // Formatted here, passed as plain text: Akka's "{0}" holes are not message-template names.
        // Remoting's lines are about a peer, which only their source names, and quote what it sent
        // (an address, a manifest, a payload's description): one line each, cut short, with the
        // exception's reason instead of its stack, so a peer can neither flood nor forge the log.
        var text = Cut(Text(log.Message));
        var cause = log.Cause;
        if (type.Namespace?.StartsWith("Akka.Remote", StringComparison.Ordinal) == true)
        {
            if (cause is not null)
            {
                text = $"{text} ({cause.GetType().Name}: {Cut(cause.GetBaseException().Message)})";
                cause = null;
            }

            if (!string.IsNullOrEmpty(log.LogSource))
            {
                text = $"{text} [at {Cut(Uri.UnescapeDataString(log.LogSource))}]";
            }
        }

        logger.Log(level, default, OneLine(text), cause, static (line, _) => line);
    }

    private static string Cut(string text) =>
        text.Length > MaxLineLength ? $"{text.AsSpan(0, MaxLineLength)}… ({text.Length - MaxLineLength} more characters)" : text;

    // Line breaks and other control characters written out, so no text makes a line of its own.
    private static string OneLine(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\0', '\u001f'))
        {
            return text;
        }

        var line = new System.Text.StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\n' => line.Append("\\n"),
                '\r' => line.Append("\\r"),
                '\t' => line.Append(' '),
                < ' ' => line.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => line.Append(c),
            };
        }

        return line.ToString();
    }

    private static string Text(object? message)
    {
        try
        {
            return message?.ToString() ?? "";
        }
        catch (FormatException ex)
        {
            return $"(a log message that could not be formatted: {ex.Message}) {(message as LogMessage)?.Format}";
        }
    }
}

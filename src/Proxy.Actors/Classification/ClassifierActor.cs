using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Event;
using Proxy.Actors.Diagnostics;

namespace Proxy.Actors.Classification;

/// <summary>
/// Base class of every classifier type: one rule of the <c>Proxy:Classifiers</c> chain. Each node
/// runs its own instances of every rule (one per judging lane, so one slow answer holds up only
/// its lane), and classification never funnels all traffic through one actor. A rule that throws
/// (a regex that times out, a parse error) is counted, logged once per interval, and counts as no
/// match: the answer is delivered rather than stalled or lost.
/// </summary>
/// <remarks>
/// Derive and implement <see cref="Matches"/>. Then either register the type on a host of your own
/// (<c>builder.AddClassifier("MyType", rule => MyClassifier.Props(rule))</c>, Proxy.Host package),
/// or mark it <see cref="ClassifierAttribute"/>, give it a public constructor taking a
/// <see cref="ClassifierConfiguration"/>, and name its assembly in <c>Proxy:Plugins:N</c> of the
/// stock host (README "Writing a classifier").
/// </remarks>
public abstract class ClassifierActor : UntypedActor
{
    /// <summary>How often a rule that keeps timing out or failing says so in the log.</summary>
    public static readonly TimeSpan FaultLogInterval = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Longest an answer waits for a rule that can be driven slow (<see cref="CanBeDrivenSlow"/>) to
    /// get to it. Past that (the rule held up by answers crafted to run it to its match timeout) the
    /// rule lets it pass unjudged, counted as skipped: its client is never held for long, at the price
    /// of that rule's verdict.
    /// </summary>
    public static readonly TimeSpan MaxQueueWait = TimeSpan.FromSeconds(1);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private char[]? _text;
    private IAnswerView? _decoded;
    private int _decodedLength;
    private long _evaluated;
    private long _matched;
    private long _faults;
    private long _timeouts;
    private long _skipped;
    private long _unloggedFaults;
    private long _nextFaultLog;

    protected ClassifierActor(string name, Verdict verdict)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (verdict == Verdict.Deliver)
        {
            throw new ArgumentException("A rule's verdict must be Overloaded or Failed.", nameof(verdict));
        }

        Name = name;
        Verdict = verdict;
    }

    /// <summary>The rule's name, as configured (<c>Proxy:Classifiers:N:Name</c>).</summary>
    protected string Name { get; }

    /// <summary>The verdict this rule gives when it matches.</summary>
    protected Verdict Verdict { get; }

    /// <summary>True when the answer matches this rule. Runs inside the actor: keep it quick and never block.</summary>
    protected abstract bool Matches(IAnswerView answer);

    /// <summary>
    /// True for a rule whose cost a crafted answer can drive up (a backtracking regex): answers that
    /// waited over <see cref="MaxQueueWait"/> for it pass it unjudged. A rule whose cost is linear in
    /// the answer judges every answer however long it waited (skipping it would leak its verdict
    /// exactly when the proxy is busiest).
    /// </summary>
    protected virtual bool CanBeDrivenSlow => false;

    /// <summary>A one-line description of this rule's settings for <c>/debug/actors</c>.</summary>
    protected virtual string Describe() => GetType().Name;

    /// <summary>
    /// The body as judged (<see cref="IAnswerView.Content"/>: decoded from its Content-Encoding)
    /// decoded as UTF-8 text, into a pooled buffer held only while this answer is judged (no
    /// allocation per answer, and no idle memory per rule instance).
    /// </summary>
    protected ReadOnlySpan<char> BodyText(IAnswerView answer)
    {
        if (!ReferenceEquals(_decoded, answer))
        {
            var body = answer.Content.Span;
            var needed = Encoding.UTF8.GetMaxCharCount(body.Length);
            if (_text is null || _text.Length < needed)
            {
                ReturnText();
                _text = ArrayPool<char>.Shared.Rent(needed);
            }

            _decodedLength = Encoding.UTF8.GetChars(body, _text);
            _decoded = answer;
        }

        return _text.AsSpan(0, _decodedLength);
    }

    // Whatever went wrong, the asker still gets a verdict: deliver, as for a rule that threw.
    protected override void PreRestart(Exception reason, object message)
    {
        if (message is Classify classify)
        {
            Sender.Tell(new Classified(Verdict.Deliver, null, classify.Ticket));
        }

        base.PreRestart(reason, message);
    }

    protected sealed override void OnReceive(object message)
    {
        switch (message)
        {
            case Classify classify:
                Evaluate(classify);
                break;
            case GetClassifierState:
                Sender.Tell(new ClassifierState(Name, GetType().Name, Verdict, Describe(), _evaluated, _matched, _faults, _timeouts, _skipped));
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    GetType().Name,
                    $"rule={Name} verdict={Verdict} {Describe()} evaluated={_evaluated} matched={_matched} faults={_faults} timeouts={_timeouts} skipped={_skipped}",
                    []));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Evaluate(Classify classify)
    {
        bool matched;
        if (CanBeDrivenSlow && classify.Sent != 0 && Stopwatch.GetElapsedTime(classify.Sent) > MaxQueueWait)
        {
            _skipped++;
            LogFault(new TimeoutException($"answers waited over {MaxQueueWait.TotalSeconds:0} s for this rule and passed unjudged (skipped={_skipped})"));
            matched = false;
        }
        else
        {
            _evaluated++;
            matched = Judge(classify.Answer);
        }

        if (matched)
        {
            _matched++;
            Sender.Tell(new Classified(Verdict, Name, classify.Ticket));
        }
        else if (classify.Rest.Count == 0)
        {
            Sender.Tell(new Classified(Verdict.Deliver, null, classify.Ticket));
        }
        else
        {
            // Next rule; Forward keeps the original asker as the one to answer.
            classify.Rest[0].Forward(classify with { Rest = classify.Rest.Skip(1).ToArray() });
        }
    }

    private bool Judge(IAnswerView answer)
    {
        try
        {
            return Matches(answer);
        }
        catch (Exception ex)
        {
            if (ex is RegexMatchTimeoutException)
            {
                _timeouts++;
            }
            else
            {
                _faults++;
            }

            LogFault(ex);
            return false;
        }
        finally
        {
            _decoded = null;
            ReturnText();
        }
    }

    // A rule that times out on a stream of crafted answers must not flood the log: one line per
    // interval, with how many answers it gave up on since the last one.
    private void LogFault(Exception ex)
    {
        _unloggedFaults++;
        var now = Environment.TickCount64;
        if (now < _nextFaultLog)
        {
            return;
        }

        _nextFaultLog = now + (long)FaultLogInterval.TotalMilliseconds;
        var what = ex is RegexMatchTimeoutException timeout
            ? $"timed out after {timeout.MatchTimeout.TotalMilliseconds:0} ms"
            : $"failed ({ex.GetType().Name}: {ex.Message})";
        _log.Warning(
            "Classifier {0} {1} on {2} answer(s) in the last {3} s; they were delivered (timeouts={4} faults={5})",
            Name, what, _unloggedFaults, FaultLogInterval.TotalSeconds, _timeouts, _faults);
        _unloggedFaults = 0;
    }

    private void ReturnText()
    {
        if (_text is not null)
        {
            ArrayPool<char>.Shared.Return(_text);
            _text = null;
        }
    }

    /// <summary>
    /// Judge this answer. The first rule that matches answers the sender with <see cref="Classified"/>;
    /// otherwise the message moves on to <see cref="Rest"/>, and the last rule answers Deliver.
    /// </summary>
    /// <param name="Sent">When the node sent it (<see cref="Stopwatch.GetTimestamp"/>), for <see cref="MaxQueueWait"/>; 0: no bound.</param>
    public sealed record Classify(IAnswerView Answer, IReadOnlyList<IActorRef> Rest, object Ticket, long Sent = 0);

    /// <summary>The chain's verdict; <see cref="Ticket"/> is the asker's own, returned untouched.</summary>
    public sealed record Classified(Verdict Verdict, string? Rule, object Ticket);

    public sealed record GetClassifierState
    {
        public static GetClassifierState Instance { get; } = new();
    }

    public sealed record ClassifierState(string Name, string Type, Verdict Verdict, string Settings, long Evaluated, long Matched, long Faults, long Timeouts, long Skipped = 0);
}

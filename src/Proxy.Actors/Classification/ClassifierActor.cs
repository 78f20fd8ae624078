using System.Text;
using Akka.Actor;
using Akka.Event;
using Proxy.Actors.Diagnostics;

namespace Proxy.Actors.Classification;

/// <summary>
/// Base class of every classifier type: one rule of the <c>Proxy:Classifiers</c> chain. Each node
/// runs its own instance of every rule, so classification never funnels all traffic through one
/// actor. A rule that throws (a regex that times out, a parse error) is logged and counted and
/// counts as no match: the answer is delivered rather than stalled or lost.
/// </summary>
/// <remarks>
/// Derive, implement <see cref="Matches"/>, and register the type on the host builder with
/// <c>builder.AddClassifier("MyType", rule => MyClassifier.Props(rule.Name, rule.Verdict, ...))</c>.
/// </remarks>
public abstract class ClassifierActor : UntypedActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private char[] _text = [];
    private IAnswerView? _decoded;
    private int _decodedLength;
    private long _evaluated;
    private long _matched;
    private long _faults;

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

    /// <summary>A one-line description of this rule's settings for <c>/debug/actors</c>.</summary>
    protected virtual string Describe() => GetType().Name;

    /// <summary>The buffered body decoded as UTF-8, into a buffer this actor reuses (no allocation per answer).</summary>
    protected ReadOnlySpan<char> BodyText(IAnswerView answer)
    {
        if (!ReferenceEquals(_decoded, answer))
        {
            var body = answer.Buffered.Span;
            var needed = Encoding.UTF8.GetMaxCharCount(body.Length);
            if (_text.Length < needed)
            {
                _text = new char[needed];
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
                Sender.Tell(new ClassifierState(Name, GetType().Name, Verdict, Describe(), _evaluated, _matched, _faults));
                break;
            case DescribeActor:
                Sender.Tell(new ActorDescription(
                    GetType().Name,
                    $"rule={Name} verdict={Verdict} {Describe()} evaluated={_evaluated} matched={_matched} faults={_faults}",
                    []));
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void Evaluate(Classify classify)
    {
        _evaluated++;
        bool matched;
        try
        {
            matched = Matches(classify.Answer);
        }
        catch (Exception ex)
        {
            _faults++;
            _log.Warning("Classifier {0} could not judge an answer ({1}: {2}); delivering it", Name, ex.GetType().Name, ex.Message);
            matched = false;
        }
        finally
        {
            _decoded = null;
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

    /// <summary>
    /// Judge this answer. The first rule that matches answers the sender with <see cref="Classified"/>;
    /// otherwise the message moves on to <see cref="Rest"/>, and the last rule answers Deliver.
    /// </summary>
    public sealed record Classify(IAnswerView Answer, IReadOnlyList<IActorRef> Rest, object Ticket);

    /// <summary>The chain's verdict; <see cref="Ticket"/> is the asker's own, returned untouched.</summary>
    public sealed record Classified(Verdict Verdict, string? Rule, object Ticket);

    public sealed record GetClassifierState
    {
        public static GetClassifierState Instance { get; } = new();
    }

    public sealed record ClassifierState(string Name, string Type, Verdict Verdict, string Settings, long Evaluated, long Matched, long Faults);
}

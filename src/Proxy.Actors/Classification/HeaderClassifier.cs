using System.Text.RegularExpressions;
using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary><c>Header</c>: matches answers carrying a header whose value matches a regex.</summary>
public sealed class HeaderClassifier(string name, Verdict verdict, string header, Regex pattern) : ClassifierActor(name, verdict)
{
    public const string TypeName = "Header";

    public static Props Props(string name, Verdict verdict, string header, Regex pattern) =>
        Akka.Actor.Props.Create(() => new HeaderClassifier(name, verdict, header, pattern));

    protected override bool Matches(IAnswerView answer)
    {
        if (!answer.Headers.NonValidated.TryGetValues(header, out var values)
            && !answer.ContentHeaders.NonValidated.TryGetValues(header, out values))
        {
            return false;
        }

        foreach (var value in values)
        {
            if (pattern.IsMatch(value))
            {
                return true;
            }
        }

        return false;
    }

    protected override bool CanBeDrivenSlow => BodyRegexClassifier.Backtracks(pattern);

    protected override string Describe() => $"Header={header} Pattern={pattern}";
}

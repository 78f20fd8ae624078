using System.Text;
using Akka.Actor;
using Proxy.Actors.Classification;

namespace CustomClassifierHost;

/// <summary>
/// An answer that is the node's maintenance page (a 200 carrying <c>Marker</c>): the work was not
/// done, so the rule's verdict (say <c>Overloaded</c>) keeps it from the client and redispatches.
/// </summary>
[Classifier("MaintenancePage")]
public sealed class MaintenancePageClassifier(ClassifierConfiguration rule) : ClassifierActor(rule.Name, rule.Verdict)
{
    private readonly byte[] _marker = Encoding.UTF8.GetBytes(rule.Require("Marker"));

    /// <summary>What <c>AddClassifier</c> builds each rule of this type from.</summary>
    public static Props Props(ClassifierConfiguration rule) => Akka.Actor.Props.Create(() => new MaintenancePageClassifier(rule));

    protected override bool Matches(IAnswerView answer) => answer.Content.Span.IndexOf(_marker) >= 0;
}

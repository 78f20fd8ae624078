using Akka.Actor;

namespace Proxy.Actors.Classification;

/// <summary><c>Status</c>: matches answers whose HTTP status is one of the configured codes.</summary>
public sealed class StatusClassifier : ClassifierActor
{
    public const string TypeName = "Status";

    private readonly int[] _codes;

    public StatusClassifier(string name, Verdict verdict, IReadOnlyCollection<int> codes)
        : base(name, verdict)
    {
        _codes = codes.Distinct().Order().ToArray();
    }

    public static Props Props(string name, Verdict verdict, IReadOnlyCollection<int> codes) =>
        Akka.Actor.Props.Create(() => new StatusClassifier(name, verdict, codes));

    protected override bool Matches(IAnswerView answer) => Array.BinarySearch(_codes, answer.Status) >= 0;

    protected override string Describe() => $"Codes={string.Join(',', _codes)}";
}

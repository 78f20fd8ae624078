namespace Proxy.Actors.Classification;

/// <summary>Matches answers whose HTTP status is one of the configured codes.</summary>
public sealed class StatusClassifier : ResponseClassifier
{
    private readonly int[] _codes;

    public StatusClassifier(string name, IEnumerable<int> codes, Verdict verdict)
        : base(name, verdict)
    {
        _codes = codes.Distinct().Order().ToArray();
        if (_codes.Length == 0)
        {
            throw new ArgumentException("A Status rule needs at least one code.", nameof(codes));
        }
    }

    public IReadOnlyList<int> Codes => _codes;

    public override bool Matches(in AnswerView answer) => Array.BinarySearch(_codes, answer.Status) >= 0;
}

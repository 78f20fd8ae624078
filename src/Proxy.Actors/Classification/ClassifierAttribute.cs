namespace Proxy.Actors.Classification;

/// <summary>
/// Names the classifier type a plugin's <see cref="ClassifierActor"/> subclass is, as
/// <c>Proxy:Classifiers:N:Type</c> chooses it. The host (<c>Proxy:Plugins:N</c>) registers every
/// public, non-abstract subclass so marked that has a public constructor taking a
/// <see cref="ClassifierConfiguration"/>.
/// </summary>
/// <example><code>
/// [Classifier("MaintenancePage")]
/// public sealed class MaintenancePageClassifier(ClassifierConfiguration rule) : ClassifierActor(rule.Name, rule.Verdict)
/// {
///     protected override bool Matches(IAnswerView answer) => …;
/// }
/// </code></example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class ClassifierAttribute(string type) : Attribute
{
    /// <summary>The <c>Type</c> name configuration uses (compared without regard to case).</summary>
    public string Type { get; } = type;
}

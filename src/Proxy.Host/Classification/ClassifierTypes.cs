using System.Globalization;
using Akka.Actor;
using Proxy.Actors.Classification;

namespace Proxy.Host.Classification;

/// <summary>
/// The classifier types a <c>Type</c> name may choose, each a factory from its configuration to
/// the Props of a <see cref="ClassifierActor"/>. The built-in types register the same way an
/// extension does.
/// </summary>
public sealed class ClassifierTypes
{
    private readonly Dictionary<string, Registration> _types = new(StringComparer.OrdinalIgnoreCase);

    public static ClassifierTypes CreateWithBuiltIns()
    {
        var types = new ClassifierTypes();
        types.Add(
            XmlRpcFaultClassifier.TypeName,
            rule => XmlRpcFaultClassifier.Props(rule.Name, rule.Verdict, Codes(rule, "a fault code", _ => true)),
            XmlRpcFaultClassifier.StartsAsFault);
        types.Add(BodyRegexClassifier.TypeName, rule => BodyRegexClassifier.Props(rule.Name, rule.Verdict, rule.RequirePattern()));
        types.Add(StatusClassifier.TypeName, rule => StatusClassifier.Props(rule.Name, rule.Verdict, Codes(rule, "an HTTP status code", code => code is >= 100 and <= 599)));
        types.Add(HeaderClassifier.TypeName, rule => HeaderClassifier.Props(rule.Name, rule.Verdict, rule.Require("Header"), rule.RequirePattern()));
        types.Add(JsonRpcErrorClassifier.TypeName, rule => JsonRpcErrorClassifier.Props(rule.Name, rule.Verdict, rule.RequireInt64("Code")));
        return types;
    }

    public IEnumerable<string> Names => _types.Keys.Order(StringComparer.Ordinal);

    /// <summary>
    /// Registers (or replaces) a type; <paramref name="factory"/> validates its settings and builds the
    /// Props. <paramref name="needsWholeAnswer"/>, when given, tells a node which answers larger than
    /// its response buffer this type can only judge whole (see <see cref="ClassifierSpec.NeedsWholeAnswer"/>).
    /// </summary>
    public void Add(string type, Func<ClassifierConfiguration, Props> factory, Func<IAnswerView, bool>? needsWholeAnswer = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        _types[type] = new Registration(factory, needsWholeAnswer);
    }

    public bool TryGet(string type, out Func<ClassifierConfiguration, Props> factory)
    {
        var found = _types.TryGetValue(type, out var registration);
        factory = registration?.Factory!;
        return found;
    }

    /// <summary>Builds the rule an entry configures, validating its settings.</summary>
    internal ClassifierSpec Create(string type, ClassifierConfiguration rule)
    {
        var registration = _types[type];
        return new ClassifierSpec(rule.Name, type, registration.Factory(rule)) { NeedsWholeAnswer = registration.NeedsWholeAnswer };
    }

    private static int[] Codes(ClassifierConfiguration rule, string what, Func<int, bool> isValid)
    {
        var section = rule.Section.GetSection("Codes");
        var codes = section.GetChildren().Select(c => (c.Key, c.Value)).ToArray();
        if (codes.Length == 0)
        {
            throw rule.Invalid("Codes", $"at least one code is required (Codes:0=...), each {what}");
        }

        return codes.Select(c => int.TryParse(c.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var code) && isValid(code)
                ? code
                : throw rule.Invalid($"Codes:{c.Key}", $"'{c.Value}' is not {what}"))
            .ToArray();
    }

    private sealed record Registration(Func<ClassifierConfiguration, Props> Factory, Func<IAnswerView, bool>? NeedsWholeAnswer);
}

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
    private readonly Dictionary<string, Func<ClassifierConfiguration, Props>> _factories = new(StringComparer.OrdinalIgnoreCase);

    public static ClassifierTypes CreateWithBuiltIns()
    {
        var types = new ClassifierTypes();
        types.Add(BodyRegexClassifier.TypeName, rule => BodyRegexClassifier.Props(rule.Name, rule.Verdict, rule.RequirePattern()));
        types.Add(StatusClassifier.TypeName, rule => StatusClassifier.Props(rule.Name, rule.Verdict, StatusCodes(rule)));
        types.Add(HeaderClassifier.TypeName, rule => HeaderClassifier.Props(rule.Name, rule.Verdict, rule.Require("Header"), rule.RequirePattern()));
        types.Add(JsonRpcErrorClassifier.TypeName, rule => JsonRpcErrorClassifier.Props(rule.Name, rule.Verdict, rule.RequireInt64("Code")));
        return types;
    }

    public IEnumerable<string> Names => _factories.Keys.Order(StringComparer.Ordinal);

    /// <summary>Registers (or replaces) a type; <paramref name="factory"/> validates its settings and builds the Props.</summary>
    public void Add(string type, Func<ClassifierConfiguration, Props> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        _factories[type] = factory;
    }

    public bool TryGet(string type, out Func<ClassifierConfiguration, Props> factory) => _factories.TryGetValue(type, out factory!);

    private static int[] StatusCodes(ClassifierConfiguration rule)
    {
        var section = rule.Section.GetSection("Codes");
        var codes = section.GetChildren().Select(c => (c.Key, c.Value)).ToArray();
        if (codes.Length == 0)
        {
            throw rule.Invalid("Codes", "at least one status code is required (Codes:0=503)");
        }

        return codes.Select(c => int.TryParse(c.Value, out var code) && code is >= 100 and <= 599
                ? code
                : throw rule.Invalid($"Codes:{c.Key}", $"'{c.Value}' is not an HTTP status code"))
            .ToArray();
    }
}

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
    /// <summary>
    /// The dispatcher of rules that run on the backtracking regex engine: one dedicated thread, so a
    /// crafted answer that drives such a rule to its match timeout can take that thread, never the
    /// thread pool that serves every other request.
    /// </summary>
    public const string SlowRulesDispatcher = "proxy-slow-rules";

    /// <summary>The HOCON of <see cref="SlowRulesDispatcher"/>.</summary>
    public const string SlowRulesDispatcherConfig =
        SlowRulesDispatcher + " { type = ForkJoinDispatcher, throughput = 1, dedicated-thread-pool { thread-count = 1 } }";

    private readonly Dictionary<string, Func<ClassifierConfiguration, ClassifierSpec>> _types = new(StringComparer.OrdinalIgnoreCase);

    // Who registered each type that is not built in, for the error a clash gets.
    private readonly Dictionary<string, string> _registeredBy = new(StringComparer.OrdinalIgnoreCase);

    // The settings each built-in type reads, beside every entry's Name, Type and Verdict. A type
    // registered by an extension reads its own section as it likes, so only these are checked.
    private static readonly string[] EntrySettings = ["Name", "Type", "Verdict"];
    private readonly Dictionary<string, string[]> _settings = new(StringComparer.OrdinalIgnoreCase)
    {
        [XmlRpcFaultClassifier.TypeName] = ["Codes"],
        [BodyRegexClassifier.TypeName] = ["Pattern"],
        [HeaderClassifier.TypeName] = ["Header", "Pattern"],
        [StatusClassifier.TypeName] = ["Codes"],
        [JsonRpcErrorClassifier.TypeName] = ["Code"],
    };

    public static ClassifierTypes CreateWithBuiltIns()
    {
        var types = new ClassifierTypes();
        types._types[XmlRpcFaultClassifier.TypeName] = rule =>
            new ClassifierSpec(rule.Name, XmlRpcFaultClassifier.Props(rule.Name, rule.Verdict, Codes(rule, "a fault code", _ => true)))
            {
                NeedsWholeAnswer = XmlRpcFaultClassifier.StartsAsFault,
                Screen = XmlRpcFaultClassifier.CouldMatch,
            };
        types._types[BodyRegexClassifier.TypeName] = rule =>
        {
            var pattern = rule.RequirePattern();
            return new ClassifierSpec(rule.Name, OnItsDispatcher(BodyRegexClassifier.Props(rule.Name, rule.Verdict, pattern), pattern))
            {
                Screen = BodyRegexClassifier.Screen(pattern),
            };
        };
        types._types[HeaderClassifier.TypeName] = rule =>
        {
            var header = rule.Require("Header");
            var pattern = rule.RequirePattern();
            return new ClassifierSpec(rule.Name, OnItsDispatcher(HeaderClassifier.Props(rule.Name, rule.Verdict, header, pattern), pattern));
        };
        types._types[StatusClassifier.TypeName] = rule =>
            new ClassifierSpec(rule.Name, StatusClassifier.Props(rule.Name, rule.Verdict, Codes(rule, "an HTTP status code", code => code is >= 100 and <= 599)));
        types._types[JsonRpcErrorClassifier.TypeName] = rule =>
            new ClassifierSpec(rule.Name, JsonRpcErrorClassifier.Props(rule.Name, rule.Verdict, rule.RequireInt64("Code")))
            {
                Screen = JsonRpcErrorClassifier.CouldMatch,
            };
        return types;
    }

    public IEnumerable<string> Names => _types.Keys.Order(StringComparer.Ordinal);

    /// <summary>
    /// Registers (or replaces) a type; <paramref name="factory"/> validates its settings and builds the
    /// Props. <paramref name="needsWholeAnswer"/>, when given, tells a node which answers larger than
    /// its response buffer this type can only judge whole (see <see cref="ClassifierSpec.NeedsWholeAnswer"/>);
    /// <paramref name="screen"/>, which answers it could match at all (see <see cref="ClassifierSpec.Screen"/>).
    /// </summary>
    public void Add(string type, Func<ClassifierConfiguration, Props> factory, Func<IAnswerView, bool>? needsWholeAnswer = null, Func<IAnswerView, bool>? screen = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        ArgumentNullException.ThrowIfNull(factory);
        _types[type] = rule => new ClassifierSpec(rule.Name, factory(rule)) { NeedsWholeAnswer = needsWholeAnswer, Screen = screen };
        _registeredBy[type] = "AddClassifier";

        // A built-in replaced by an extension: its settings are the extension's.
        _settings.Remove(type);
    }

    /// <summary>
    /// Throws for a setting of a built-in type's entry that the type does not read (a typo such as
    /// <c>Code</c> for <c>Codes</c> would otherwise be ignored), naming it and the type's settings.
    /// </summary>
    internal void CheckSettings(string type, IConfigurationSection entry)
    {
        if (!_settings.TryGetValue(type, out var own))
        {
            return;
        }

        foreach (var setting in entry.GetChildren())
        {
            if (EntrySettings.Contains(setting.Key, StringComparer.OrdinalIgnoreCase) || own.Contains(setting.Key, StringComparer.OrdinalIgnoreCase))
            {
                continue;
            }

            var known = EntrySettings.Concat(own).ToArray();
            var nearest = known.MinBy(k => Configuration.KnownKeys.Distance(k, setting.Key))!;
            var hint = Configuration.KnownKeys.Distance(nearest, setting.Key) <= 2 ? $"did you mean {nearest}? " : "";
            throw new ClassifierConfigurationException(setting.Path, $"is not a setting of a {type} rule; {hint}its settings are {string.Join(", ", known)}");
        }
    }

    public bool Contains(string type) => _types.ContainsKey(type);

    /// <summary>
    /// The registered type <paramref name="type"/> matches (names match ignoring case), and where it
    /// comes from: "built in", "AddClassifier" or the plugin that registered it.
    /// </summary>
    internal string RegisteredBy(string type) =>
        $"'{_types.Keys.First(k => string.Equals(k, type, StringComparison.OrdinalIgnoreCase))}', " +
        (_registeredBy.TryGetValue(type, out var by) ? by : "built in");

    internal void AddFromPlugin(string type, Func<ClassifierConfiguration, Props> factory, string plugin)
    {
        Add(type, factory);
        _registeredBy[type] = plugin;
    }

    /// <summary>Builds the rule an entry configures, validating its settings.</summary>
    /// <remarks>Its actor is started once on trial first (<see cref="RuleTrial"/>): a constructor that rejects the settings fails here, naming them.</remarks>
    internal ClassifierSpec Create(string type, ClassifierConfiguration rule)
    {
        var spec = _types[type](rule);
        RuleTrial.Start(rule, type, spec.Props);
        return spec;
    }

    private static Props OnItsDispatcher(Props props, System.Text.RegularExpressions.Regex pattern) =>
        BodyRegexClassifier.Backtracks(pattern) ? props.WithDispatcher(SlowRulesDispatcher) : props;

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

}

using System.Globalization;
using System.Text.RegularExpressions;
using Proxy.Actors.Classification;
using Proxy.Host.Configuration;

namespace Proxy.Host.Classification;

/// <summary>
/// One entry of <c>Proxy:Classifiers</c> as a classifier type's factory sees it: the validated
/// name and verdict, and the entry's own section for the type's settings. The <c>Require…</c>
/// helpers turn a missing or bad setting into a start-up error naming its key.
/// </summary>
public sealed class ClassifierConfiguration(string name, Verdict verdict, IConfigurationSection section)
{
    public string Name { get; } = name;

    public Verdict Verdict { get; } = verdict;

    /// <summary>The entry's section (<c>Proxy:Classifiers:N</c>): the type's own settings live here.</summary>
    public IConfigurationSection Section { get; } = section;

    public string Require(string setting)
    {
        var value = Section[setting];
        return string.IsNullOrEmpty(value) ? throw Invalid(setting, "is required") : value;
    }

    public long RequireInt64(string setting)
    {
        var value = Require(setting);
        return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw Invalid(setting, $"'{value}' is not a whole number");
    }

    /// <summary>What start-up should warn the operator of about this rule (logged once, start-up goes on).</summary>
    public IList<string> Warnings { get; } = [];

    /// <summary>
    /// A pattern compiled the way every rule compiles it (Singleline, culture invariant, the linear-time
    /// engine where the pattern allows, else backtracking with a match timeout and a start-up warning).
    /// </summary>
    public Regex RequirePattern(string setting = "Pattern")
    {
        var pattern = Require(setting);
        try
        {
            var regex = BodyRegexClassifier.Compile(pattern, out var whyBacktracking);
            if (whyBacktracking is not null)
            {
                Warnings.Add($"{Section.Path}:{setting}: '{pattern}' runs on the backtracking regex engine, as the linear-time one refuses it "
                    + $"({whyBacktracking.TrimEnd('.')}): a crafted answer can make it run to its {BodyRegexClassifier.MatchTimeout.TotalMilliseconds:0} ms timeout, "
                    + "after which the answer is delivered");
            }

            return regex;
        }
        catch (ArgumentException ex)
        {
            throw Invalid(setting, $"'{pattern}' does not compile: {ex.Message}");
        }
    }

    /// <summary>A configuration error naming <c>Proxy:Classifiers:N:{setting}</c>.</summary>
    public ProxyConfigurationException Invalid(string setting, string problem) => new($"{Section.Path}:{setting}", problem);
}

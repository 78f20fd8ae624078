using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Proxy.Actors.Classification;

/// <summary>
/// One entry of <c>Proxy:Classifiers</c> as a classifier type sees it: the validated name and
/// verdict, and the entry's own section for the type's settings. The <c>Require…</c> helpers turn
/// a missing or bad setting into a start-up error naming its key. Part of the extension contract:
/// a plugin's <see cref="ClassifierActor"/> takes one in its public constructor.
/// </summary>
public sealed class ClassifierConfiguration(string name, Verdict verdict, IConfigurationSection section)
{
    /// <summary>The rule's <c>Name</c>: what logs, metrics and the access log call it.</summary>
    public string Name { get; } = name;

    /// <summary>What a match means: <see cref="Verdict.Overloaded"/> or <see cref="Verdict.Failed"/>.</summary>
    public Verdict Verdict { get; } = verdict;

    /// <summary>The entry's section (<c>Proxy:Classifiers:N</c>): the type's own settings live here.</summary>
    public IConfigurationSection Section { get; } = section;

    /// <summary>The setting's value; a start-up error naming it when it is missing or empty.</summary>
    public string Require(string setting)
    {
        var value = Section[setting];
        return string.IsNullOrEmpty(value) ? throw Invalid(setting, "is required") : value;
    }

    /// <summary>The setting as a whole number; a start-up error naming it when it is missing or not one.</summary>
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

    /// <summary>A configuration error naming <c>Proxy:Classifiers:N:{setting}</c>: throw it, and start-up stops with one line.</summary>
    public ClassifierConfigurationException Invalid(string setting, string problem) => new($"{Section.Path}:{setting}", problem);
}

/// <summary>A classifier entry's setting that cannot be used: <see cref="Key"/> names it, <see cref="Problem"/> says why.</summary>
public sealed class ClassifierConfigurationException(string key, string problem) : Exception($"{key}: {problem}")
{
    /// <summary>The full key, e.g. <c>Proxy:Classifiers:0:Pattern</c>.</summary>
    public string Key { get; } = key;

    public string Problem { get; } = problem;
}

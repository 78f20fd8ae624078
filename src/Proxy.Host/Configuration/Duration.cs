using System.Globalization;

namespace Proxy.Host.Configuration;

/// <summary>
/// Durations as operators of HAProxy, Envoy and nginx write them: <c>500ms</c>, <c>30s</c>,
/// <c>5m</c>, <c>1h</c>, or <c>hh:mm:ss[.fff]</c>. A bare number is refused: .NET would read
/// <c>3</c> as three days.
/// </summary>
public static class Duration
{
    public const string Expected = "a duration such as 500ms, 30s, 5m, 1h or 00:00:30";

    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        var value = text.AsSpan().Trim();
        if (value.IsEmpty)
        {
            return false;
        }

        if (value.Contains(':'))
        {
            return TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out duration);
        }

        var suffix = value.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? 2 : 1;
        var unit = suffix == 2 ? TimeSpan.FromMilliseconds(1) : char.ToLowerInvariant(value[^1]) switch
        {
            's' => TimeSpan.FromSeconds(1),
            'm' => TimeSpan.FromMinutes(1),
            'h' => TimeSpan.FromHours(1),
            _ => TimeSpan.Zero,
        };
        var digits = value[..^suffix];
        if (unit == TimeSpan.Zero
            || !double.TryParse(digits, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var count)
            || double.IsNaN(count) || Math.Abs(count * unit.Ticks) > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }

        duration = TimeSpan.FromTicks((long)(count * unit.Ticks));
        return true;
    }

    /// <summary>The form the configuration binder reads (<c>d.hh:mm:ss.fffffff</c>).</summary>
    public static string ToBinderForm(TimeSpan duration) => duration.ToString("c", CultureInfo.InvariantCulture);
}
